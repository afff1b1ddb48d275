import { hash } from 'node:crypto'
import type { ClaimingStore } from '../state/store.js'

/**
 * RFC 9449 §11.1: a proof's `jti` is accepted once within the time the proof is acceptable. The
 * key is a hash of the proof key's thumbprint and the `jti`, so one client cannot use up another
 * client's `jti`s, and the key has a fixed size whatever the client sent.
 */
export interface ReplayCache {
  /** `true` the first time a (key, jti) pair is seen within `ttlMs`; throws when it cannot tell. */
  firstUse(jkt: string, jti: string, ttlMs: number): Promise<boolean>
  close(): Promise<void>
}

export function replayKey(jkt: string, jti: string): string {
  return `dpop-jti:${hash('sha256', `${jkt}.${jti}`, 'base64url')}`
}

/** The shared form: every replica pointed at one Redis refuses a proof any of them has seen. */
export function createStoreReplayCache(store: ClaimingStore): ReplayCache {
  return {
    firstUse: (jkt, jti, ttlMs) => store.setIfAbsent(replayKey(jkt, jti), '1', ttlMs),
    close: () => store.close(),
  }
}

export interface MemoryReplayCacheOptions {
  /** Most pairs remembered; when every one is still live, `firstUse` throws (never forgets early). */
  maxEntries: number
  /** Clock in milliseconds since the epoch (tests). Default `Date.now`. */
  now?: () => number
}

/**
 * One process's cache. Entries are dropped only once expired: evicting a live one would let its
 * proof be replayed, so a full cache reports itself unavailable and `replayCacheOnError` decides.
 */
export function createMemoryReplayCache(options: MemoryReplayCacheOptions): ReplayCache & { readonly size: number } {
  const until = new Map<string, number>()
  const now = options.now ?? Date.now
  return {
    async firstUse(jkt, jti, ttlMs) {
      const at = now()
      // Insertion order is close to expiry order (one TTL for all), so expired entries sit in front.
      for (const [key, end] of until) {
        if (end > at) break
        until.delete(key)
      }
      const key = replayKey(jkt, jti)
      const end = until.get(key)
      if (end !== undefined && end > at) return false
      if (until.size >= options.maxEntries) throw new Error('the DPoP replay cache is full')
      until.set(key, at + ttlMs)
      return true
    },
    async close() {
      until.clear()
    },
    get size() {
      return until.size
    },
  }
}
