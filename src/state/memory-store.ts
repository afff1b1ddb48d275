import { TokenCache } from '../common/token-cache.js'
import type { StateStore } from './store.js'

export interface MemoryStoreOptions {
  /** Most entries kept; the least recently used goes first (0 keeps nothing). */
  maxEntries: number
  /** Clock in milliseconds since the epoch (tests). Default `Date.now`. */
  now?: () => number
}

/** The default store: a bounded LRU in this process, each entry gone at its TTL. */
export function createMemoryStore(options: MemoryStoreOptions): StateStore & { readonly size: number } {
  const entries = new TokenCache<string>(options.maxEntries)
  const now = options.now ?? Date.now
  return {
    async get(key) {
      return entries.get(key, now())
    },
    async set(key, value, ttlMs) {
      if (ttlMs > 0) entries.set(key, value, now() + ttlMs)
    },
    async close() {
      entries.clear()
    },
    get size() {
      return entries.size
    },
  }
}
