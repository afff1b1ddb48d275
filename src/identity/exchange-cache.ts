import { TokenCache } from '../common/token-cache.js'

/** A token held for reuse until `expiresAt` (milliseconds since the epoch). */
export interface CachedToken {
  readonly token: string
  readonly expiresAt: number
}

/**
 * Exchanged tokens by a hash of (client token, audience, scopes): the client's token itself is
 * never a key, so a heap dump of the map holds no usable credential as an index. Concurrent
 * requests for one key share one call to the token endpoint. The entries are the project's bounded
 * LRU (common/token-cache.ts): at most `maxEntries`, none returned past its `expiresAt`.
 */
export class ExchangeCache {
  readonly #entries: TokenCache<string>
  readonly #pending = new Map<string, Promise<CachedToken>>()

  constructor(
    maxEntries: number,
    readonly now: () => number = Date.now,
  ) {
    this.#entries = new TokenCache(maxEntries)
  }

  static key(...parts: readonly string[]): string {
    return TokenCache.key(parts.join('\0'))
  }

  /** The cached token for `key` while it is still valid. */
  get(key: string): string | undefined {
    return this.#entries.get(key, this.now())
  }

  /**
   * The token for `key`, from the cache or from `fetch` (one call for all concurrent askers). An
   * answer whose `expiresAt` has already passed is handed to the askers but not kept.
   */
  obtain(key: string, fetch: () => Promise<CachedToken>): Promise<CachedToken> {
    const pending = this.#pending.get(key)
    if (pending !== undefined) return pending
    const call = fetch().then(
      (entry) => {
        this.#pending.delete(key)
        if (entry.expiresAt > this.now()) this.#entries.set(key, entry.token, entry.expiresAt)
        return entry
      },
      (error: unknown) => {
        this.#pending.delete(key)
        throw error
      },
    )
    this.#pending.set(key, call)
    return call
  }
}
