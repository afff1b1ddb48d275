import { createPrivateKey, createPublicKey, createHash, type KeyObject } from 'node:crypto'
import type { Secret } from '../common/secret-file.js'

export type SigningAlg = 'ES256' | 'EdDSA' | 'RS256'

/** A private key read from a PEM file, with the algorithm it signs with and its public JWK. */
export interface SigningKey {
  readonly alg: SigningAlg
  readonly kid: string
  /** The PEM text; turned into a `KeyObject` where it is used, so the frozen config holds no live key. */
  readonly pem: Secret
  /** The public half as a JWK (`kid`, `alg`, `use: sig`), safe to publish. */
  readonly publicJwk: Readonly<Record<string, string>>
}

/**
 * Reads a PEM private key and works out its algorithm: EC P-256 signs ES256, Ed25519 EdDSA, RSA
 * (2048 bits or more, RFC 7518 §3.3) RS256. A configured `alg` must fit the key. The `kid`
 * defaults to the RFC 7638 thumbprint of the public key, so a new key gets a new `kid` by itself.
 * Throws an Error whose message names the problem, never the key.
 */
export function readSigningKey(pem: Secret, options: { alg?: SigningAlg | undefined; kid?: string | undefined } = {}): SigningKey {
  let key: KeyObject
  try {
    key = createPrivateKey(pem.reveal())
  } catch {
    throw new Error('is not a PEM private key')
  }
  const alg = algorithmOf(key)
  if (alg === undefined) throw new Error('must be an EC P-256, Ed25519 or RSA (2048 bits or more) private key')
  if (options.alg !== undefined && options.alg !== alg) throw new Error(`holds a key for ${alg}, not ${options.alg}`)
  const jwk = createPublicKey(key).export({ format: 'jwk' }) as Record<string, string>
  const kid = options.kid ?? thumbprint(jwk)
  return { alg, kid, pem, publicJwk: { ...jwk, kid, alg, use: 'sig' } }
}

function algorithmOf(key: KeyObject): SigningAlg | undefined {
  const details = key.asymmetricKeyDetails
  if (key.asymmetricKeyType === 'ec' && details?.namedCurve === 'prime256v1') return 'ES256'
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA'
  if (key.asymmetricKeyType === 'rsa' && (details?.modulusLength ?? 0) >= 2048) return 'RS256'
  return undefined
}

/** RFC 7638 §3: the SHA-256 of the required members in lexicographic order, base64url. */
function thumbprint(jwk: Record<string, string>): string {
  const members =
    jwk['kty'] === 'EC'
      ? { crv: jwk['crv'], kty: jwk['kty'], x: jwk['x'], y: jwk['y'] }
      : jwk['kty'] === 'OKP'
        ? { crv: jwk['crv'], kty: jwk['kty'], x: jwk['x'] }
        : { e: jwk['e'], kty: jwk['kty'], n: jwk['n'] }
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url')
}
