import { createLocalJWKSet, type JWTVerifyGetKey } from 'jose'
import type { ResolvedAuthorizationServer } from './authorization-server-schema.js'
import { createHmacKeySource } from './hmac.js'
import { createRemoteKeys } from './remote-keys.js'

/** Told the `kid`s of keys a refresh removed (`undefined` for a key published without one). */
export type KeysRemovedListener = (kids: ReadonlySet<string | undefined>) => void

export interface KeySource {
  getKey: JWTVerifyGetKey
  /** Fetches keys now (startup, reload); resolves whether they loaded. */
  warmUp(): Promise<boolean>
  ready(): boolean
  /** Keys that can change (a JWKS URL) report the ones a refresh dropped. */
  onKeysRemoved?(listener: KeysRemovedListener): () => void
  /** Stops background fetches. */
  close?(): void
}

/**
 * Keys of one issuer: an HMAC secret, a local JWKS file (read at load and on reload), or a JWKS
 * URL, given or found by discovery (`createRemoteKeys`).
 */
export function createKeySource(as: ResolvedAuthorizationServer): KeySource {
  if (as.hmacSecret !== undefined) return createHmacKeySource(as.hmacSecret)
  if (as.jwks !== undefined) {
    const local = createLocalJWKSet(as.jwks)
    return { getKey: local, warmUp: async () => true, ready: () => true }
  }
  return createRemoteKeys(as)
}
