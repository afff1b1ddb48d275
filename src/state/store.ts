/**
 * State that several gateway processes must share (docs/scaling.md) sits behind this
 * one small interface: in memory by default, Redis when `redis.url` (`MCP_REDIS_URL`) is set, so
 * replicas behind one Redis see the same entries.
 *
 * Keys are built by the caller and never hold a token (they hold a SHA-256 of it); values are
 * opaque strings. A store that cannot answer throws; callers treat that as a miss, never as a
 * decision.
 */
export interface StateStore {
  /** The value, or `undefined` when absent or expired. */
  get(key: string): Promise<string | undefined>
  /** Stores `value` for `ttlMs` milliseconds (> 0). */
  set(key: string, value: string, ttlMs: number): Promise<void>
  /** Releases connections; the store is not used afterwards. */
  close(): Promise<void>
}

/** A store that can also claim a key once, atomically across processes: the DPoP replay cache. */
export interface ClaimingStore extends StateStore {
  /** Stores `value` for `ttlMs` milliseconds unless the key exists; `true` when this call stored it. */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>
}
