import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * Signing keys for the benchmark's token source, and a minimal JWS compact signer on node:crypto
 * (RFC 7515 §3.1; RS256 is RSASSA-PKCS1-v1_5 with SHA-256, ES256 is ECDSA P-256 with the raw
 * r||s signature of RFC 7518 §3.4). The gateway verifies these with its real verifier; only the
 * minting side is hand-rolled, because jose's WebCrypto signing is several times slower and the
 * memory mode mints hundreds of thousands of tokens.
 */
export type BenchAlg = 'RS256' | 'ES256'

export interface BenchKey {
  readonly alg: BenchAlg
  readonly kid: string
  readonly privateKey: KeyObject
  readonly privatePem: string
}

export interface BenchKeys {
  readonly rs256: BenchKey
  readonly es256: BenchKey
  /** Path of the public JWKS file (both keys), for `MCP_JWT_KEY_FILE`. */
  readonly jwksFile: string
}

export function createBenchKeys(dir: string): BenchKeys {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const rs256 = toBenchKey('RS256', 'bench-rs256', rsa.privateKey)
  const es256 = toBenchKey('ES256', 'bench-es256', ec.privateKey)
  const keys = [
    { ...rsa.publicKey.export({ format: 'jwk' }), kid: rs256.kid, alg: 'RS256', use: 'sig' },
    { ...ec.publicKey.export({ format: 'jwk' }), kid: es256.kid, alg: 'ES256', use: 'sig' },
  ]
  const jwksFile = join(dir, 'jwks.json')
  writeFileSync(jwksFile, JSON.stringify({ keys }))
  return { rs256, es256, jwksFile }
}

function toBenchKey(alg: BenchAlg, kid: string, privateKey: KeyObject): BenchKey {
  return { alg, kid, privateKey, privatePem: privateKey.export({ format: 'pem', type: 'pkcs8' }) as string }
}

export interface AccessTokenClaims {
  iss: string
  aud: string
  sub: string
  scope: string
  client_id: string
  exp: number
  iat: number
  jti: string
}

/** RFC 9068 access-token claims valid for `lifetimeSeconds`. */
export function accessTokenClaims(issuer: string, audience: string, scope: string, subject: string, lifetimeSeconds: number): AccessTokenClaims {
  const now = Math.floor(Date.now() / 1000)
  return {
    iss: issuer,
    aud: audience,
    sub: subject,
    scope,
    client_id: 'bench-client',
    exp: now + lifetimeSeconds,
    iat: now,
    jti: randomBytes(12).toString('base64url'),
  }
}

/** A compact JWS with `typ: at+jwt` (RFC 9068 §2.1). */
export function signJwt(alg: BenchAlg, kid: string, privateKey: KeyObject, claims: object): string {
  const header = Buffer.from(JSON.stringify({ alg, typ: 'at+jwt', kid })).toString('base64url')
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url')
  const input = `${header}.${payload}`
  const signature =
    alg === 'RS256'
      ? sign('sha256', Buffer.from(input), privateKey)
      : sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' })
  return `${input}.${signature.toString('base64url')}`
}
