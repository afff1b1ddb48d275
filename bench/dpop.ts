import { createHash, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto'
import { accessTokenClaims, signJwt, type BenchKey } from './keys.js'
import type { LoadRequest } from './load/load-spec.js'
import { mcpRequests } from './requests.js'
import { ISSUER, TOKEN_SCOPE } from './setup.js'

/**
 * The `dpop-es256` row's client side: DPoP-bound access tokens (RFC 9449 §6.1, `cnf.jkt`) and,
 * before every run, a fresh ES256 proof for every request the run can send. The gateway refuses a
 * `jti` it has seen (§11.1) and the load generators replay a fixed list, so each request entry
 * carries its own single-use proofs (`LoadRequest.dpopProofs`). They are signed here, in the bench
 * process, before the run's counters are read: no signing is charged to the gateway or the run.
 */

/** Upper bound of a DPoP run's rate: above what the plain JWT row reaches on these VMs (~25k/s). */
export const DPOP_MAX_REQUESTS_PER_SECOND = 30_000

/** Replay cache entries the row's gateway needs: every proof of a full run fits (jtis live 600 s). */
export const DPOP_REPLAY_CACHE_SIZE = 2_000_000

export interface DpopClient {
  readonly tokens: readonly string[]
  /** The request mix with `count` fresh proofs spread over its entries. */
  requestsWithProofs(count: number): LoadRequest[]
}

export function createDpopClient(accessKey: BenchKey, resource: string, tokenCount: number): DpopClient {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const { kty, crv, x, y } = publicKey.export({ format: 'jwk' })
  // RFC 7638 §3.2: the required members in lexicographic order, no whitespace.
  const jkt = createHash('sha256').update(JSON.stringify({ crv, kty, x, y })).digest('base64url')
  const header = Buffer.from(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } })).toString('base64url')
  const tokens = Array.from({ length: tokenCount }, (_, i) =>
    signJwt(accessKey.alg, accessKey.kid, accessKey.privateKey, { ...accessTokenClaims(ISSUER, resource, TOKEN_SCOPE, `user-${i}`, 3600), cnf: { jkt } }),
  )
  const base = mcpRequests(tokens).map((r) => ({ ...r, headers: { ...r.headers, authorization: r.headers.authorization?.replace(/^Bearer /, 'DPoP ') ?? '' } }))
  const aths = base.map((r) => createHash('sha256').update(r.headers.authorization?.slice('DPoP '.length) ?? '').digest('base64url'))
  return {
    tokens,
    requestsWithProofs(count) {
      const perEntry = Math.ceil(count / base.length)
      const iat = Math.floor(Date.now() / 1000)
      return base.map((r, i) => ({
        ...r,
        dpopProofs: Array.from({ length: perEntry }, () => proof(header, privateKey, { htm: 'POST', htu: resource, iat, jti: randomBytes(12).toString('base64url'), ath: aths[i] })),
      }))
    },
  }
}

/** A compact JWS, ES256 (RFC 7518 §3.4: raw r||s). */
function proof(header: string, key: KeyObject, claims: object): string {
  const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`
  return `${input}.${sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`
}

/**
 * The floor under the row's target: CPU µs of one P-256 signature check (node:crypto, the call the
 * gateway makes per proof), in this process, now. No DPoP request can cost less than a Bearer one
 * plus this.
 */
export function p256VerifyCpuUs(count = 2_000): number {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const data = Buffer.from('x'.repeat(300))
  const signature = sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' })
  const options = { key: publicKey, dsaEncoding: 'ieee-p1363' } as const
  for (let i = 0; i < 200; i++) verify('sha256', data, options, signature)
  const before = process.cpuUsage()
  for (let i = 0; i < count; i++) if (!verify('sha256', data, options, signature)) throw new Error('the P-256 floor check did not verify')
  const used = process.cpuUsage(before)
  return (used.user + used.system) / count
}
