import { createHash, randomUUID } from 'node:crypto'
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose'

/** A DPoP client key (RFC 9449 §4): the private key signs proofs, the public JWK goes in their header. */
export interface DpopKey {
  readonly alg: string
  readonly privateKey: CryptoKey
  readonly publicJwk: JWK
  readonly privateJwk: JWK
  /** RFC 7638 thumbprint: the token's `cnf.jkt`. */
  readonly jkt: string
}

export async function createDpopKey(alg = 'ES256'): Promise<DpopKey> {
  const pair = await generateKeyPair(alg, { extractable: true })
  const publicJwk = await exportJWK(pair.publicKey)
  return {
    alg,
    privateKey: pair.privateKey,
    publicJwk,
    privateJwk: await exportJWK(pair.privateKey),
    jkt: await calculateJwkThumbprint(publicJwk, 'sha256'),
  }
}

export interface ProofOptions {
  htm: string
  htu: string
  /** The access token, hashed into `ath`; omitted for token-endpoint proofs. */
  accessToken?: string
  /** Seconds since the epoch. Default now. */
  iat?: number
  jti?: string
  nonce?: string
  /** Replaces the header's `typ` / `jwk` / `alg`, or claims, to build bad proofs. */
  header?: Record<string, unknown>
  claims?: JWTPayload
}

/** A DPoP proof JWT signed by `key`, as a client makes one per request (RFC 9449 §4.2). */
export async function makeProof(key: DpopKey, options: ProofOptions): Promise<string> {
  const payload: JWTPayload = {
    htm: options.htm,
    htu: options.htu,
    jti: options.jti ?? randomUUID(),
    iat: options.iat ?? Math.floor(Date.now() / 1000),
    ...(options.accessToken === undefined ? {} : { ath: createHash('sha256').update(options.accessToken).digest('base64url') }),
    ...(options.nonce === undefined ? {} : { nonce: options.nonce }),
    ...options.claims,
  }
  return new SignJWT(payload)
    .setProtectedHeader({ typ: 'dpop+jwt', alg: key.alg, jwk: key.publicJwk, ...options.header } as never)
    .sign(key.privateKey)
}
