import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from 'node:crypto'
import { createRedisStore } from '../state/redis-store.js'
import type { RedisConfig } from '../state/redis-config.js'
import type { StateStore } from '../state/store.js'
import type { CachedToken } from './exchange-cache.js'

/** Where the shared entries live, under the configured key prefix. */
const NAMESPACE = 'exchange:'
/** AES-256-GCM: a 96-bit IV (NIST SP 800-38D §8.2), a 128-bit tag. */
const IV_BYTES = 12
const TAG_BYTES = 16

/**
 * Exchanged tokens shared by every gateway on one Redis (docs/upstream-identity.md). They are
 * credentials, so Redis holds them sealed: AES-256-GCM under a key only the gateways have, with a
 * random IV per entry and the entry's cache key as additional data, so a value moved to another key
 * does not open. The Redis key is the cache key (a hash), never a token; an entry's TTL is its own
 * lifetime. Every failure (Redis down or slow, a value sealed under another key) is a miss: the
 * caller exchanges afresh.
 */
export interface SharedExchangeCache {
  get(key: string, now: number): Promise<CachedToken | undefined>
  set(key: string, entry: CachedToken, now: number): Promise<void>
  close(): Promise<void>
}

export function createSharedExchangeCache(redis: RedisConfig, key: KeyObject, store: StateStore = createRedisStore(redis)): SharedExchangeCache {
  return {
    async get(cacheKey, now) {
      let value: string | undefined
      try {
        value = await store.get(NAMESPACE + cacheKey)
      } catch {
        return undefined
      }
      const entry = value === undefined ? undefined : open(key, cacheKey, value)
      return entry !== undefined && entry.expiresAt > now ? entry : undefined
    },
    async set(cacheKey, entry, now) {
      const ttlMs = entry.expiresAt - now
      if (!(ttlMs > 0) || !Number.isFinite(ttlMs)) return
      try {
        await store.set(NAMESPACE + cacheKey, seal(key, cacheKey, entry), ttlMs)
      } catch {
        // Not shared this time: this process still holds it in memory.
      }
    },
    close: () => store.close(),
  }
}

/** `base64url(iv | ciphertext | tag)` of `{"t": token, "e": expiresAt}`. */
export function seal(key: KeyObject, cacheKey: string, entry: CachedToken): string {
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(cacheKey))
  const body = Buffer.concat([cipher.update(JSON.stringify({ t: entry.token, e: entry.expiresAt })), cipher.final()])
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url')
}

/** The entry, or `undefined` when the value does not open under `key` for `cacheKey`. */
export function open(key: KeyObject, cacheKey: string, value: string): CachedToken | undefined {
  const raw = Buffer.from(value, 'base64url')
  if (raw.length <= IV_BYTES + TAG_BYTES) return undefined
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES }).setAAD(Buffer.from(cacheKey))
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES))
    const text = Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString('utf8')
    const parsed = JSON.parse(text) as { t?: unknown; e?: unknown }
    if (typeof parsed.t !== 'string' || typeof parsed.e !== 'number') return undefined
    return { token: parsed.t, expiresAt: parsed.e }
  } catch {
    return undefined
  }
}

/**
 * The 32-byte key from the key file's text, as a KeyObject (never printed, unlike a Buffer): base64 (`openssl rand -base64 32`) or hex
 * (`openssl rand -hex 32`); `undefined` when it is neither.
 */
export function parseCacheKey(text: string): KeyObject | undefined {
  const trimmed = text.trim()
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return createSecretKey(Buffer.from(trimmed, 'hex'))
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) {
    const key = Buffer.from(trimmed, 'base64')
    if (key.length === 32) return createSecretKey(key)
  }
  return undefined
}
