import { randomUUID } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { SignJWT, base64url, exportJWK, exportSPKI, generateKeyPair, importJWK } from 'jose'
import type { CryptoKey, JWK, JWTPayload } from 'jose'

// Tokens here are ones the test AS would never issue: they exist for negative tests of the
// gateway's verifier (expired, wrong audience, forged algorithms, unknown keys).

export interface TestKey {
  readonly kid: string
  readonly alg: 'RS256' | 'ES256'
  readonly privateKey: CryptoKey
  readonly publicKey: CryptoKey
  /** Public JWK with `kid`, `alg` and `use: 'sig'`. */
  readonly publicJwk: JWK
  /** SPKI PEM of the public key, the bytes a key-confusion attacker would use as an HMAC secret. */
  readonly publicPem: string
}

export interface TestKeys {
  readonly rsa: TestKey
  readonly ec: TestKey
  /** The public JWKS (both keys), as a JWKS file or endpoint would serve it. */
  readonly jwks: { keys: JWK[] }
  /** Writes the public JWKS to `<dir>/<fileName>` and returns its path. */
  writeJwksFile(dir: string, fileName?: string): Promise<string>
}

async function createTestKey(alg: 'RS256' | 'ES256', kid: string): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }
  return { kid, alg, privateKey, publicKey, publicJwk, publicPem: await exportSPKI(publicKey) }
}

export async function createTestKeys(): Promise<TestKeys> {
  const suffix = randomUUID().slice(0, 8)
  const rsa = await createTestKey('RS256', `test-rs-${suffix}`)
  const ec = await createTestKey('ES256', `test-es-${suffix}`)
  const jwks = { keys: [rsa.publicJwk, ec.publicJwk] }
  return {
    rsa,
    ec,
    jwks,
    async writeJwksFile(dir, fileName = 'jwks.json') {
      const path = join(dir, fileName)
      await writeFile(path, JSON.stringify(jwks, null, 2))
      return path
    },
  }
}

export interface AccessTokenClaimsInput {
  issuer: string
  audience: string | string[]
  scope?: string
  subject?: string
  clientId?: string
  /** Seconds from now; negative for an already expired token. */
  expiresInSeconds?: number
  /** Shifts `iat` (and `exp` with it) relative to now. */
  issuedAtOffsetSeconds?: number
}

/** RFC 9068 shaped claims, like oidc-provider's, as a starting point to break one field at a time. */
export function accessTokenClaims(input: AccessTokenClaimsInput): JWTPayload {
  const iat = Math.floor(Date.now() / 1000) + (input.issuedAtOffsetSeconds ?? 0)
  const clientId = input.clientId ?? 'test-client'
  return {
    iss: input.issuer,
    aud: input.audience,
    sub: input.subject ?? clientId,
    client_id: clientId,
    jti: randomUUID(),
    iat,
    exp: iat + (input.expiresInSeconds ?? 3600),
    ...(input.scope === undefined ? {} : { scope: input.scope }),
  }
}

export interface MintJwtOptions {
  key: TestKey
  /** Merged over `{ alg, kid, typ: 'at+jwt' }`; a value of `undefined` removes that member. */
  header?: Record<string, unknown>
  /** Used exactly as given: nothing is added, so a missing `exp` stays missing. */
  claims: JWTPayload
}

export async function mintJwt(options: MintJwtOptions): Promise<string> {
  const header: Record<string, unknown> = { alg: options.key.alg, kid: options.key.kid, typ: 'at+jwt' }
  for (const [name, value] of Object.entries(options.header ?? {})) {
    if (value === undefined) delete header[name]
    else header[name] = value
  }
  const alg = header['alg']
  if (typeof alg !== 'string') throw new Error('mintJwt needs a string alg')
  return new SignJWT(options.claims)
    .setProtectedHeader({ ...header, alg })
    .sign(options.key.privateKey)
}

function encodeSegment(value: unknown): string {
  return base64url.encode(JSON.stringify(value))
}

/** An unsigned JWT (`alg: none`, empty signature), built by hand because jose refuses to. */
export function algNoneToken(claims: JWTPayload, header: Record<string, unknown> = {}): string {
  return `${encodeSegment({ alg: 'none', typ: 'at+jwt', ...header })}.${encodeSegment(claims)}.`
}

export interface KeyConfusionOptions {
  /** Which public-key bytes become the HMAC secret: the SPKI PEM (classic) or the JWK's JSON. */
  secretFormat?: 'pem' | 'jwk-json'
  header?: Record<string, unknown>
}

/**
 * The RS256-to-HS256 key confusion attack: an HS256 token whose HMAC secret is the server's own
 * public key. A verifier that lets the token pick the algorithm would accept it.
 */
export async function hs256WithPublicKey(
  publicJwk: JWK,
  claims: JWTPayload,
  options: KeyConfusionOptions = {},
): Promise<string> {
  let secretText: string
  if (options.secretFormat === 'jwk-json') {
    secretText = JSON.stringify(publicJwk)
  } else {
    const alg = typeof publicJwk.alg === 'string' ? publicJwk.alg : publicJwk.kty === 'EC' ? 'ES256' : 'RS256'
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicOnly } = publicJwk
    const key = await importJWK(publicOnly, alg)
    if (key instanceof Uint8Array) throw new Error('expected an asymmetric public JWK')
    secretText = await exportSPKI(key)
  }
  const header: Record<string, unknown> = { typ: 'at+jwt', ...options.header }
  if (publicJwk.kid !== undefined && !('kid' in header)) header['kid'] = publicJwk.kid
  return new SignJWT(claims)
    .setProtectedHeader({ ...header, alg: 'HS256' })
    .sign(new TextEncoder().encode(secretText))
}
