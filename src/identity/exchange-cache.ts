import { createHash } from 'node:crypto'

/** A token held for reuse until `expiresAt` (milliseconds since the epoch). */
export interface CachedToken {
  readonly token: string
  readonly expiresAt: number
}

/**
 * Exchanged tokens by a hash of (client token, audience, scopes): the client's token itself is
 * never a key, so a heap dump of the map holds no usable credential as an index. Concurrent
 * requests for one key share one call to the token endpoint. At most `maxEntries` are held; the
 * oldest goes first. Entries past `expiresAt` are never returned.
 */
export class ExchangeCache {
  readonly #entries = new Map<string, CachedToken>()
  readonly #pending = new Map<string, Promise<CachedToken>>()

  constructor(
    readonly maxEntries: number,
    readonly now: () => number = Date.now,
  ) {}

  static key(...parts: readonly string[]): string {
    return createHash('sha256').update(parts.join('\0')).digest('base64url')
  }

  get size(): number {
    return this.#entries.size
  }

  /** The cached token for `key` while it is still valid. */
  get(key: string): string | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt > this.now()) return entry.token
    this.#entries.delete(key)
    return undefined
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
        if (entry.expiresAt > this.now()) this.#store(key, entry)
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

  #store(key: string, entry: CachedToken): void {
    if (this.maxEntries === 0) return
    this.#entries.delete(key)
    if (this.#entries.size >= this.maxEntries) {
      const oldest = this.#entries.keys().next()
      if (oldest.done !== true) this.#entries.delete(oldest.value)
    }
    this.#entries.set(key, entry)
  }
}
