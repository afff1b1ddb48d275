import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { chmod, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { decodeJwt, SignJWT } from 'jose'
import { Redis } from 'ioredis'
import { runChecks } from '../../src/check/run-checks.js'
import { createMetrics, type GatewayMetrics } from '../../src/observability/metrics.js'
import { startAuthorizationServer, type AuthorizationServer } from '../support/authorization-server.js'
import { recordSecret } from '../support/log-capture.js'
import { startMcpBackend, type McpBackend } from '../support/mcp-backend.js'
import { createDpopKey, makeProof, type DpopKey, type ProofOptions } from '../support/dpop.js'
import {
  gatewayMcpUrl,
  headerLines,
  INITIALIZE_BODY,
  makeTempDir,
  mcpHeaders,
  send,
  startGatewayStack,
  startTestGateway,
  type GatewayStack,
  type RawResponse,
  type TestGateway,
} from '../support/gateway.js'

/**
 * DPoP (RFC 9449) end to end: oidc-provider with its DPoP feature issues `cnf.jkt`-bound JWT
 * access tokens, a client built with jose signs one proof per request, and the gateway lets the
 * request through only with a fresh proof by the token's key. Two gateways share one Redis, so a
 * proof replayed against the other replica is refused too.
 */

const SCOPE = 'mcp:read mcp:write'
const REDIS_URL = 'redis://127.0.0.1:6379'

describe('DPoP-bound tokens from oidc-provider, through the gateway', () => {
  let stack: GatewayStack
  let replica: TestGateway
  let key: DpopKey
  let other: DpopKey
  let token: string
  let temp: { dir: string; remove(): Promise<void> }
  let metrics: GatewayMetrics
  const prefix = `mcp-gw-test-${randomUUID()}:`

  /** A proof for the canonical URI, as the client addresses the service (both replicas sit behind it). */
  const proof = async (options: Partial<ProofOptions> = {}, signer: DpopKey = key): Promise<string> => {
    const value = await makeProof(signer, { htm: 'POST', htu: stack.gateway.canonicalUri, accessToken: token, ...options })
    recordSecret(value)
    return value
  }

  const call = (authorization: string, proofs: readonly string[], gateway: TestGateway = stack.gateway): Promise<RawResponse> => {
    const headers: string[] = []
    for (const [name, value] of Object.entries(mcpHeaders())) headers.push(name, value)
    headers.push('authorization', authorization)
    for (const value of proofs) headers.push('dpop', value)
    return send(gatewayMcpUrl(gateway), { method: 'POST', headers, body: INITIALIZE_BODY })
  }

  before(async () => {
    temp = await makeTempDir()
    const file = join(temp.dir, 'gateway.yaml')
    await writeFile(file, `redis:\n  keyPrefix: "${prefix}"\n`)
    const shared = { MCP_CONFIG: file, MCP_REDIS_URL: REDIS_URL, MCP_DPOP: 'optional' }
    // Fed by the decision events of every gateway in this process, as `serve` wires it.
    metrics = createMetrics({ calls: { resourcePath: '/mcp', excluded: [] }, defaultMetrics: false })
    stack = await startGatewayStack({ asScope: SCOPE, authorizationServer: { dpop: true }, env: shared })
    // A second replica behind the same canonical URI, sharing the Redis replay cache.
    replica = await startTestGateway({
      env: {
        ...shared,
        MCP_CANONICAL_URI: stack.gateway.canonicalUri,
        MCP_AUTHORIZATION_SERVER: stack.as.issuer,
        MCP_JWKS_URI: stack.as.jwksUri,
        MCP_BACKEND: stack.backend.origin,
        MCP_SCOPES_SUPPORTED: SCOPE,
      },
    })
    key = await createDpopKey('ES256')
    other = await createDpopKey('ES256')
    const tokenProof = await makeProof(key, { htm: 'POST', htu: stack.as.tokenEndpoint })
    token = await stack.as.clientCredentialsToken({ resource: stack.gateway.canonicalUri, scope: SCOPE, headers: { dpop: tokenProof } })
    recordSecret(token)
  })

  after(async () => {
    metrics?.close()
    await replica?.close()
    await stack?.close()
    await temp?.remove()
    const admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
    const keys = await admin.keys(`${prefix}*`)
    if (keys.length > 0) await admin.del(...keys)
    await admin.quit()
  })

  test('oidc-provider binds the token to the proof key (cnf.jkt, RFC 9449 §6.1)', () => {
    assert.deepEqual(decodeJwt(token)['cnf'], { jkt: key.jkt })
  })

  test('allowed with a fresh proof; neither the token nor the proof reaches the backend', async () => {
    const sent = await proof()
    const before = stack.backend.requests.length
    const response = await call(`DPoP ${token}`, [sent])
    assert.equal(response.status, 200, response.body)
    const forwarded = stack.backend.requests.slice(before)
    assert.equal(forwarded.length, 1)
    const raw = JSON.stringify(forwarded[0]?.headers)
    assert.ok(!raw.includes(sent) && !raw.includes(token), 'the proof or the token reached the backend')
    assert.equal(forwarded[0]?.headers['dpop'], undefined)
  })

  test('the same proof again is a replay: 401 invalid_dpop_proof on the DPoP challenge, Bearer offered first', async () => {
    const sent = await proof()
    assert.equal((await call(`DPoP ${token}`, [sent])).status, 200)
    const response = await call(`DPoP ${token}`, [sent])
    assert.equal(response.status, 401)
    const meta = `${stack.gateway.url}/.well-known/oauth-protected-resource/mcp`
    assert.deepEqual(headerLines(response, 'www-authenticate'), [
      `Bearer resource_metadata="${meta}"`,
      `DPoP error="invalid_dpop_proof", resource_metadata="${meta}", error_description="The DPoP proof was already used", algs="ES256 EdDSA RS256 PS256"`,
    ])
    assert.deepEqual(JSON.parse(response.body), { error: 'invalid_dpop_proof', error_description: 'The DPoP proof was already used' })
  })

  test('a proof replayed against the second replica (shared Redis) is refused there too', async () => {
    const sent = await proof()
    assert.equal((await call(`DPoP ${token}`, [sent])).status, 200)
    const response = await call(`DPoP ${token}`, [sent], replica)
    assert.equal(response.status, 401)
    assert.match(headerLines(response, 'www-authenticate').join('\n'), /DPoP error="invalid_dpop_proof".*already used/)
    // And a fresh proof works on the replica: it is a real gateway for the same resource.
    assert.equal((await call(`DPoP ${token}`, [await proof()], replica)).status, 200)
  })

  const now = () => Math.floor(Date.now() / 1000)
  const refusals: { name: string; request: () => Promise<[string, string[]]>; error: string; description: string }[] = [
    { name: 'a proof for another method', request: async () => [`DPoP ${token}`, [await proof({ htm: 'GET' })]], error: 'invalid_dpop_proof', description: 'The DPoP proof was made for another method' },
    {
      name: 'a proof for another URI',
      request: async () => [`DPoP ${token}`, [await proof({ htu: `${stack.gateway.canonicalUri}/other` })]],
      error: 'invalid_dpop_proof',
      description: 'The DPoP proof was made for another URI',
    },
    { name: 'a stale iat', request: async () => [`DPoP ${token}`, [await proof({ iat: now() - 600 })]], error: 'invalid_dpop_proof', description: 'The DPoP proof is outside its time window' },
    { name: 'a future iat', request: async () => [`DPoP ${token}`, [await proof({ iat: now() + 600 })]], error: 'invalid_dpop_proof', description: 'The DPoP proof is outside its time window' },
    { name: 'a wrong ath', request: async () => [`DPoP ${token}`, [await proof({ accessToken: 'another-token' })]], error: 'invalid_dpop_proof', description: 'The DPoP proof was made for another access token' },
    {
      name: 'a proof signed by another key',
      request: async () => [`DPoP ${token}`, [await proof({}, other)]],
      error: 'invalid_token',
      description: 'The DPoP proof key does not match the token binding',
    },
    {
      name: 'an HMAC proof',
      request: async () => {
        const hmac = await new SignJWT({ htm: 'POST', htu: stack.gateway.canonicalUri, iat: now(), jti: randomUUID() })
          .setProtectedHeader({ typ: 'dpop+jwt', alg: 'HS256', jwk: key.publicJwk } as never)
          .sign(new TextEncoder().encode('a-shared-secret-of-32-bytes-long'))
        return [`DPoP ${token}`, [hmac]]
      },
      error: 'invalid_dpop_proof',
      description: 'The DPoP proof uses an algorithm that is not allowed',
    },
    {
      name: 'a none proof',
      request: async () => {
        const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
        return [`DPoP ${token}`, [`${part({ typ: 'dpop+jwt', alg: 'none', jwk: key.publicJwk })}.${part({ htm: 'POST', htu: stack.gateway.canonicalUri, iat: now(), jti: 'x' })}.`]]
      },
      error: 'invalid_dpop_proof',
      description: 'The DPoP proof uses an algorithm that is not allowed',
    },
    {
      name: 'a proof carrying a private key',
      request: async () => [`DPoP ${token}`, [await proof({ header: { jwk: key.privateJwk } })]],
      error: 'invalid_dpop_proof',
      description: 'The DPoP proof carries a private key',
    },
    { name: 'no proof', request: async () => [`DPoP ${token}`, []], error: 'invalid_dpop_proof', description: 'A DPoP proof is required' },
    { name: 'two proofs', request: async () => [`DPoP ${token}`, [await proof(), await proof()]], error: 'invalid_dpop_proof', description: 'Send exactly one DPoP header' },
  ]
  for (const row of refusals) {
    test(`refused: ${row.name} (401 ${row.error} on the DPoP challenge)`, async () => {
      const [authorization, proofs] = await row.request()
      const response = await call(authorization, proofs)
      assert.equal(response.status, 401, response.body)
      const [bearer, dpop] = headerLines(response, 'www-authenticate')
      assert.ok(bearer?.startsWith('Bearer ') && !bearer.includes('error='), bearer)
      assert.ok(dpop?.startsWith(`DPoP error="${row.error}"`), dpop)
      assert.deepEqual(JSON.parse(response.body), { error: row.error, error_description: row.description })
    })
  }

  test('refused: the bound token sent as Bearer (401 invalid_token on the Bearer challenge)', async () => {
    const response = await call(`Bearer ${token}`, [])
    assert.equal(response.status, 401)
    const [bearer, dpop] = headerLines(response, 'www-authenticate')
    assert.match(bearer ?? '', /^Bearer error="invalid_token", .*error_description="This token is bound to a DPoP key and needs the DPoP scheme"$/)
    assert.ok(dpop?.startsWith('DPoP ') && !dpop.includes('error='), dpop)
  })

  test('an unbound token with the DPoP scheme is refused; the same token as Bearer is accepted (dpop: optional)', async () => {
    const plain = await stack.token()
    recordSecret(plain)
    const withProof = await call(`DPoP ${plain}`, [await makeProof(key, { htm: 'POST', htu: stack.gateway.canonicalUri, accessToken: plain })])
    assert.equal(withProof.status, 401)
    assert.equal(JSON.parse(withProof.body).error_description, 'The token is not bound to a DPoP key')
    assert.equal((await call(`Bearer ${plain}`, [])).status, 200)
  })

  test('RFC 9728 §2 metadata says DPoP is accepted, with the proof algorithms', async () => {
    const response = await send(`${stack.gateway.url}/.well-known/oauth-protected-resource/mcp`)
    const document = JSON.parse(response.body) as Record<string, unknown>
    assert.deepEqual(document['dpop_signing_alg_values_supported'], ['ES256', 'EdDSA', 'RS256', 'PS256'])
    assert.equal(document['dpop_bound_access_tokens_required'], false)
    assert.equal(document['tls_client_certificate_bound_access_tokens'], undefined)
  })

  test('DPoP failures are counted by reason in mcp_auth_failure_total', async () => {
    const text = await metrics.registry.metrics()
    for (const reason of ['invalid_dpop_proof', 'dpop_replay', 'dpop_key_mismatch', 'bound_token_as_bearer', 'unbound_token_as_dpop']) {
      assert.match(text, new RegExp(`mcp_auth_failure_total\\{reason="${reason}"\\} [1-9]`), reason)
    }
  })
})

describe('dpop: required', () => {
  let stack: GatewayStack
  let key: DpopKey

  before(async () => {
    key = await createDpopKey('EdDSA')
    stack = await startGatewayStack({ asScope: SCOPE, authorizationServer: { dpop: true }, env: { MCP_DPOP: 'required' } })
  })
  after(async () => {
    await stack?.close()
  })

  test('an unbound Bearer token is refused with only the DPoP challenge', async () => {
    const plain = await stack.token()
    recordSecret(plain)
    const headers: string[] = []
    for (const [name, value] of Object.entries(mcpHeaders())) headers.push(name, value)
    headers.push('authorization', `Bearer ${plain}`)
    const response = await send(gatewayMcpUrl(stack.gateway), { method: 'POST', headers, body: INITIALIZE_BODY })
    assert.equal(response.status, 401)
    const lines = headerLines(response, 'www-authenticate')
    assert.equal(lines.length, 1)
    assert.match(lines[0] ?? '', /^DPoP error="invalid_token", .*error_description="This resource accepts DPoP-bound tokens only", algs="ES256 EdDSA RS256 PS256"$/)
  })

  test('a bound token with its proof is accepted, and the metadata says DPoP is required', async () => {
    const tokenProof = await makeProof(key, { htm: 'POST', htu: stack.as.tokenEndpoint })
    const token = await stack.as.clientCredentialsToken({ resource: stack.gateway.canonicalUri, scope: SCOPE, headers: { dpop: tokenProof } })
    recordSecret(token)
    const headers: string[] = []
    for (const [name, value] of Object.entries(mcpHeaders())) headers.push(name, value)
    headers.push('authorization', `DPoP ${token}`, 'dpop', await makeProof(key, { htm: 'POST', htu: stack.gateway.canonicalUri, accessToken: token }))
    const response = await send(gatewayMcpUrl(stack.gateway), { method: 'POST', headers, body: INITIALIZE_BODY })
    assert.equal(response.status, 200, response.body)
    const document = JSON.parse((await send(`${stack.gateway.url}/.well-known/oauth-protected-resource/mcp`)).body) as Record<string, unknown>
    assert.equal(document['dpop_bound_access_tokens_required'], true)
  })

  test('check reports that oidc-provider advertises DPoP (dpop_signing_alg_values_supported)', async () => {
    const results = await runChecks(stack.gateway.config)
    const dpop = results.find((r) => r.id === 'as.dpop')
    assert.equal(dpop?.status, 'ok', JSON.stringify(dpop))
    assert.match(dpop?.message ?? '', /ES256/)
  })
})

describe('introspected DPoP-bound tokens (RFC 9449 §6.2: cnf.jkt in the RFC 7662 answer), behind TLS termination', () => {
  // The canonical URI is the public https one; the gateway listens on plain http behind it.
  const RESOURCE = 'https://mcp.example.com/mcp'
  let as: AuthorizationServer
  let backend: McpBackend
  let gateway: TestGateway
  let temp: { dir: string; remove(): Promise<void> }
  let key: DpopKey
  let token: string

  const call = async (authorization: string, proofs: string[]) => {
    const headers: string[] = []
    for (const [name, value] of Object.entries(mcpHeaders())) headers.push(name, value)
    headers.push('authorization', authorization)
    for (const value of proofs) headers.push('dpop', value)
    return send(`${gateway.url}/mcp`, { method: 'POST', headers, body: INITIALIZE_BODY })
  }

  before(async () => {
    temp = await makeTempDir()
    const secretFile = join(temp.dir, 'client-secret')
    await writeFile(secretFile, 'gateway-secret\n')
    await chmod(secretFile, 0o600)
    as = await startAuthorizationServer({ resources: { [RESOURCE]: { scope: SCOPE, format: 'opaque' } }, dpop: true })
    backend = await startMcpBackend()
    gateway = await startTestGateway({
      env: {
        MCP_CANONICAL_URI: RESOURCE,
        MCP_RESOURCE_PATH: '/mcp',
        MCP_AUTHORIZATION_SERVER: as.issuer,
        MCP_AUTH_MODE: 'introspect',
        MCP_INTROSPECT_ENDPOINT: as.introspectionEndpoint,
        MCP_CLIENT_ID: 'gateway',
        MCP_CLIENT_SECRET_FILE: secretFile,
        MCP_SCOPES_SUPPORTED: SCOPE,
        MCP_BACKEND: backend.origin,
      },
    })
    key = await createDpopKey('ES256')
    token = await as.clientCredentialsToken({ resource: RESOURCE, scope: SCOPE, headers: { dpop: await makeProof(key, { htm: 'POST', htu: as.tokenEndpoint }) } })
    recordSecret(token)
  })
  after(async () => {
    await gateway?.close()
    await backend?.close()
    await as?.close()
    await temp?.remove()
  })

  test('the introspection answer carries cnf.jkt and token_type DPoP', async () => {
    const answer = await as.introspect(token)
    assert.equal(answer['token_type'], 'DPoP')
    assert.deepEqual(answer['cnf'], { jkt: key.jkt })
  })

  test('allowed with a proof for the public https URI; refused as Bearer, and with a proof for the internal address', async () => {
    const sent = await makeProof(key, { htm: 'POST', htu: RESOURCE, accessToken: token })
    recordSecret(sent)
    assert.equal((await call(`DPoP ${token}`, [sent])).status, 200)
    const bearer = await call(`Bearer ${token}`, [])
    assert.equal(bearer.status, 401)
    assert.equal(JSON.parse(bearer.body).error_description, 'This token is bound to a DPoP key and needs the DPoP scheme')
    const internal = await call(`DPoP ${token}`, [await makeProof(key, { htm: 'POST', htu: `${gateway.url}/mcp`, accessToken: token })])
    assert.equal(internal.status, 401)
    assert.equal(JSON.parse(internal.body).error_description, 'The DPoP proof was made for another URI')
  })
})

describe('the in-memory replay cache across a reload', () => {
  let stack: GatewayStack

  before(async () => {
    stack = await startGatewayStack({ asScope: SCOPE, authorizationServer: { dpop: true } })
  })
  after(async () => {
    await stack?.close()
  })

  test('a proof used before a reload (SIGHUP) is still a replay after it: an unchanged cache is kept', async () => {
    const key = await createDpopKey('ES256')
    const token = await stack.as.clientCredentialsToken({
      resource: stack.gateway.canonicalUri,
      scope: SCOPE,
      headers: { dpop: await makeProof(key, { htm: 'POST', htu: stack.as.tokenEndpoint }) },
    })
    recordSecret(token)
    const sent = await makeProof(key, { htm: 'POST', htu: stack.gateway.canonicalUri, accessToken: token })
    const call = () => {
      const headers: string[] = []
      for (const [name, value] of Object.entries(mcpHeaders())) headers.push(name, value)
      headers.push('authorization', `DPoP ${token}`, 'dpop', sent)
      return send(gatewayMcpUrl(stack.gateway), { method: 'POST', headers, body: INITIALIZE_BODY })
    }
    assert.equal((await call()).status, 200)
    await stack.gateway.running.reload(stack.gateway.config)
    const replayed = await call()
    assert.equal(replayed.status, 401)
    assert.equal(JSON.parse(replayed.body).error_description, 'The DPoP proof was already used')
  })
})

describe('server-issued nonces (RFC 9449 §9, senderConstraint.nonce)', () => {
  let stack: GatewayStack
  let temp: { dir: string; remove(): Promise<void> }

  before(async () => {
    temp = await makeTempDir()
    const file = join(temp.dir, 'gateway.yaml')
    await writeFile(file, 'senderConstraint:\n  nonce: true\n')
    stack = await startGatewayStack({ asScope: SCOPE, authorizationServer: { dpop: true }, env: { MCP_CONFIG: file } })
  })
  after(async () => {
    await stack?.close()
    await temp?.remove()
  })

  test('a proof without a nonce gets 401 use_dpop_nonce with a DPoP-Nonce; the retry with it is allowed', async () => {
    const key = await createDpopKey('ES256')
    const token = await stack.as.clientCredentialsToken({
      resource: stack.gateway.canonicalUri,
      scope: SCOPE,
      headers: { dpop: await makeProof(key, { htm: 'POST', htu: stack.as.tokenEndpoint }) },
    })
    recordSecret(token)
    const call = async (nonce?: string) => {
      const headers: string[] = []
      for (const [name, value] of Object.entries(mcpHeaders())) headers.push(name, value)
      const proof = await makeProof(key, { htm: 'POST', htu: stack.gateway.canonicalUri, accessToken: token, ...(nonce === undefined ? {} : { nonce }) })
      headers.push('authorization', `DPoP ${token}`, 'dpop', proof)
      return send(gatewayMcpUrl(stack.gateway), { method: 'POST', headers, body: INITIALIZE_BODY })
    }
    const first = await call()
    assert.equal(first.status, 401)
    const nonce = first.headers['dpop-nonce']
    assert.equal(typeof nonce, 'string')
    assert.match(headerLines(first, 'www-authenticate')[1] ?? '', /^DPoP error="use_dpop_nonce", /)
    assert.equal((await call('not-a-nonce-of-this-gateway')).status, 401)
    assert.equal((await call(nonce as string)).status, 200)
  })
})
