import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { IncomingMessage } from 'node:http'
import { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GatewayError } from '../../../src/errors.js'
import type { Credentials } from '../../../src/token/bearer.js'
import type { Principal } from '../../../src/token/principal.js'
import { createMemoryReplayCache, type ReplayCache } from '../../../src/token/replay-cache.js'
import { senderConstraintSchema } from '../../../src/token/sender-constraint-config.js'
import { createTrustedPeer } from '../../../src/lockout/client-address.js'
import { createSenderConstraint, readBinding } from '../../../src/token/sender-constraint.js'
import { makeClientCertificate, makeSelfSigned, type CertificateFiles } from '../../support/certificates.js'
import { createDpopKey, makeProof, type DpopKey } from '../../support/dpop.js'

// The binding rule (RFC 9449 §7, RFC 8705 §3) on real requests objects and real signed proofs.

const ORIGIN = 'https://mcp.example.com'
const URI = `${ORIGIN}/mcp`
const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln'

function request(headers: [string, string][] = [], peer = '127.0.0.1'): IncomingMessage {
  const socket = new Socket()
  Object.defineProperty(socket, 'remoteAddress', { value: peer })
  const req = new IncomingMessage(socket)
  req.method = 'POST'
  req.url = '/mcp?session=1'
  req.rawHeaders = headers.flat()
  for (const [name, value] of headers) req.headers[name.toLowerCase()] = value
  return req
}

function principal(claims: Record<string, unknown>): Principal {
  return { issuer: 'https://as.example', subject: 'alice', clientId: 'c', scopes: new Set(), expiresAt: 2e9, claims }
}

const settings = (overrides: Record<string, unknown> = {}) => senderConstraintSchema.parse(overrides)

async function refusal(promise: Promise<unknown> | (() => unknown)): Promise<GatewayError> {
  try {
    await (typeof promise === 'function' ? promise() : promise)
  } catch (error) {
    assert.ok(error instanceof GatewayError, String(error))
    return error
  }
  assert.fail('expected a refusal')
}

const bearer: Credentials = { scheme: 'Bearer', token: TOKEN }
const dpop: Credentials = { scheme: 'DPoP', token: TOKEN }

describe('readBinding', () => {
  const rows: [string, Record<string, unknown>, ReturnType<typeof readBinding>][] = [
    ['no cnf', { sub: 'a' }, undefined],
    ['cnf with another confirmation method (jwk)', { cnf: { jwk: {} } }, undefined],
    ['cnf.jkt', { cnf: { jkt: 'T' } }, { jkt: 'T', x5t: undefined, dpop: true }],
    ['cnf.x5t#S256', { cnf: { 'x5t#S256': 'X' } }, { jkt: undefined, x5t: 'X', dpop: false }],
    ['introspection token_type DPoP without cnf', { token_type: 'DPoP' }, { jkt: undefined, x5t: undefined, dpop: true }],
    ['a jkt of the wrong type binds to nothing showable', { cnf: { jkt: 7 } }, { jkt: '', x5t: undefined, dpop: true }],
  ]
  for (const [name, claims, expected] of rows) test(name, () => assert.deepEqual(readBinding(claims), expected))
})

describe('createSenderConstraint', () => {
  let key: DpopKey
  let other: DpopKey
  let dir: string
  let ca: CertificateFiles
  let client: CertificateFiles
  const now = 1_800_000_000_000
  const make = (overrides: Record<string, unknown> = {}, replay: ReplayCache = createMemoryReplayCache({ maxEntries: 100, now: () => now })) => {
    // MCP_TRUSTED_PROXIES, as the gateway hands it over (config/normalize.ts, lockout/client-address.ts).
    const { trustedProxies = [], ...rest } = overrides as { trustedProxies?: string[] }
    const isTrustedPeer = createTrustedPeer(trustedProxies.map((address) => ({ address, prefix: 32, family: 'ipv4' as const })))
    return createSenderConstraint({ settings: settings(rest), canonicalOrigin: ORIGIN, replay, now: () => now, isTrustedPeer })
  }
  const proofHeader = async (k: DpopKey, extra: Parameters<typeof makeProof>[1] extends infer O ? Partial<O> : never = {}) =>
    ['DPoP', await makeProof(k, { htm: 'POST', htu: URI, accessToken: TOKEN, iat: now / 1000, ...extra })] as [string, string]

  before(async () => {
    key = await createDpopKey('ES256')
    other = await createDpopKey('ES256')
    dir = await mkdtemp(join(tmpdir(), 'sender-constraint-'))
    ca = makeSelfSigned(dir, 'ca')
    client = makeClientCertificate(dir, 'client', ca)
  })
  after(() => rm(dir, { recursive: true, force: true }))

  test('an unbound Bearer token needs nothing more, and costs no promise', () => {
    assert.equal(make().check(request(), bearer, principal({})), undefined)
  })

  test('a DPoP-bound token, its proof made for the canonical URI behind TLS termination: accepted once, then a replay', async () => {
    const c = make()
    const header = await proofHeader(key)
    await c.check(request([header]), dpop, principal({ cnf: { jkt: key.jkt } }))
    const replay = await refusal(c.check(request([header]), dpop, principal({ cnf: { jkt: key.jkt } })) as Promise<void>)
    assert.deepEqual([replay.status, replay.bearerError, replay.reason, replay.scheme], [401, 'invalid_dpop_proof', 'dpop_replay', 'DPoP'])
  })

  const refused: { name: string; run: (c: ReturnType<typeof make>) => Promise<unknown> | unknown; overrides?: Record<string, unknown>; expected: [number, string | undefined, string] }[] = [
    { name: 'a DPoP-bound token sent as Bearer', run: (c) => c.check(request(), bearer, principal({ cnf: { jkt: key.jkt } })), expected: [401, 'invalid_token', 'bound_token_as_bearer'] },
    { name: 'an introspected token_type DPoP sent as Bearer', run: (c) => c.check(request(), bearer, principal({ token_type: 'DPoP' })), expected: [401, 'invalid_token', 'bound_token_as_bearer'] },
    { name: 'an unbound token with the DPoP scheme', run: async (c) => c.check(request([await proofHeader(key)]), dpop, principal({})), expected: [401, 'invalid_token', 'unbound_token_as_dpop'] },
    { name: 'dpop: required, an unbound Bearer token', overrides: { dpop: 'required' }, run: (c) => c.check(request(), bearer, principal({})), expected: [401, 'invalid_token', 'dpop_required'] },
    { name: 'no DPoP header', run: (c) => c.check(request(), dpop, principal({ cnf: { jkt: key.jkt } })), expected: [401, 'invalid_dpop_proof', 'invalid_dpop_proof'] },
    {
      name: 'two DPoP headers',
      run: async (c) => c.check(request([await proofHeader(key), await proofHeader(key)]), dpop, principal({ cnf: { jkt: key.jkt } })),
      expected: [401, 'invalid_dpop_proof', 'invalid_dpop_proof'],
    },
    {
      name: 'a proof by another key than the token is bound to',
      run: async (c) => c.check(request([await proofHeader(other)]), dpop, principal({ cnf: { jkt: key.jkt } })),
      expected: [401, 'invalid_token', 'dpop_key_mismatch'],
    },
    {
      name: 'a proof for the request as seen behind the proxy (http, internal host)',
      run: async (c) => c.check(request([await proofHeader(key, { htu: 'http://10.0.0.5:8080/mcp' })]), dpop, principal({ cnf: { jkt: key.jkt } })),
      expected: [401, 'invalid_dpop_proof', 'invalid_dpop_proof'],
    },
    { name: 'a certificate-bound token with mtls off', run: (c) => c.check(request(), bearer, principal({ cnf: { 'x5t#S256': client.x5t } })), expected: [401, 'invalid_token', 'certificate_mismatch'] },
    {
      name: 'a certificate-bound token without a certificate',
      overrides: { mtls: 'optional' },
      run: (c) => c.check(request(), bearer, principal({ cnf: { 'x5t#S256': client.x5t } })),
      expected: [401, 'invalid_token', 'certificate_mismatch'],
    },
    {
      name: 'a forwarded certificate from a peer that is not a trusted proxy',
      overrides: { mtls: 'optional', forwardedCertificateHeader: 'X-Client-Cert', trustedProxies: ['10.0.0.1'] },
      run: (c) => c.check(request([['X-Client-Cert', encodeURIComponent(client.cert)]], '10.0.0.2'), bearer, principal({ cnf: { 'x5t#S256': client.x5t } })),
      expected: [401, 'invalid_token', 'certificate_mismatch'],
    },
    {
      name: 'another forwarded certificate than the token is bound to',
      overrides: { mtls: 'optional', forwardedCertificateHeader: 'X-Client-Cert', trustedProxies: ['10.0.0.1'] },
      run: (c) => c.check(request([['X-Client-Cert', encodeURIComponent(ca.cert)]], '10.0.0.1'), bearer, principal({ cnf: { 'x5t#S256': client.x5t } })),
      expected: [401, 'invalid_token', 'certificate_mismatch'],
    },
  ]
  for (const row of refused) {
    test(`refuses ${row.name}`, async () => {
      const error = await refusal(async () => row.run(make(row.overrides)))
      assert.deepEqual([error.status, error.bearerError, error.reason], row.expected)
      assert.ok(!error.description.includes('='))
    })
  }

  test('a forwarded certificate (nginx URL-encoded PEM, Envoy XFCC Cert=) from a trusted proxy binds', () => {
    const c = make({ mtls: 'optional', forwardedCertificateHeader: 'X-Client-Cert', trustedProxies: ['10.0.0.1'] })
    const bound = principal({ cnf: { 'x5t#S256': client.x5t } })
    assert.equal(c.check(request([['X-Client-Cert', encodeURIComponent(client.cert)]], '::ffff:10.0.0.1'), bearer, bound), undefined)
    const xfcc = `Hash=abc;Cert="${encodeURIComponent(client.cert)}";Subject="CN=client"`
    assert.equal(c.check(request([['X-Client-Cert', xfcc]], '10.0.0.1'), bearer, bound), undefined)
  })

  test('replay cache unavailable: 503 with Retry-After under deny (the default), accepted under allow', async () => {
    const broken: ReplayCache = { firstUse: async () => Promise.reject(new Error('redis down')), close: async () => undefined }
    const bound = principal({ cnf: { jkt: key.jkt } })
    const denied = await refusal(make({}, broken).check(request([await proofHeader(key)]), dpop, bound) as Promise<void>)
    assert.deepEqual([denied.status, denied.reason, denied.retryAfter], [503, 'replay_cache_unavailable', 5])
    await make({ replayCacheOnError: 'allow' }, broken).check(request([await proofHeader(key)]), dpop, bound)
  })
})
