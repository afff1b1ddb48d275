import type { Secret } from '../common/secret-file.js'
import type { KeySource } from './key-source.js'

export const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const

/** RFC 7518 §3.2: "A key of the same size as the hash output ... or larger MUST be used". */
const MIN_KEY_BYTES: Readonly<Record<string, number>> = { HS256: 32, HS384: 48, HS512: 64 }

/** A problem text when the secret is too short for one of the algorithms, else `undefined`. */
export function checkHmacKeyLength(byteLength: number, algorithms: readonly string[]): string | undefined {
  const needed = Math.max(0, ...algorithms.map((alg) => MIN_KEY_BYTES[alg] ?? 0))
  if (byteLength >= needed) return undefined
  return `holds ${byteLength} bytes; ${algorithms.join(', ')} need at least ${needed} (RFC 7518 §3.2)`
}

/**
 * The key of an issuer that signs with a shared secret (HS256/384/512), for development against an
 * authorization server that signs that way. Only an explicitly configured secret file enables it
 * (never a public key used as a secret: such an issuer's algorithm list holds HMAC only, and every
 * other issuer's list holds none); the gateway says at start that it is for development, since any
 * holder of the secret can mint tokens. Verification is `createJwtVerifier`'s, with this key.
 */
export function createHmacKeySource(secret: Secret): KeySource {
  const key = new TextEncoder().encode(secret.reveal())
  return { getKey: async () => key, warmUp: async () => true, ready: () => true }
}
