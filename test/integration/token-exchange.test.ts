import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto'
import { chmod, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { Redis } from 'ioredis'
import { createRemoteJWKSet, exportJWK, jwtVerify } from 'jose'
import type { IncomingMessage } from 'node:http'
import { checkUpstreamIdentity } from '../../src/check/identity-checks.js'
import { runChecks } from '../../src/check/run-checks.js'
import { Secret } from '../../src/common/secret-file.js'
import { IDENTITY_REFUSED_CODE } from '../../src/errors.js'
import { auditLine, mcpCallPaths } from '../../src/observability/audit.js'
import { events, type DecisionEvent } from '../../src/observability/events.js'
import { createMetrics } from '../../src/observability/metrics.js'
import { GATEWAY_CLIENT } from '../support/authorization-server.js'
import { JWT_BEARER, TOKEN_EXCHANGE } from '../support/exchange-grants.js'
import { startFailingAuthorizationServer } from '../support/failing-as.js'
import type { FailingAuthorizationServer } from '../support/failing-as.js'
import { INITIALIZE_BODY, makeTempDir, postMcp, startGatewayStack, startTestGateway } from '../support/gateway.js'
import type { GatewayStack, TestGateway } from '../support/gateway.js'
import { assertNeverSent, whoami } from '../support/identity-client.js'

// Issue 15, exchange mode against the real oidc-provider (RFC 8693 and On-Behalf-Of grants
// registered with registerGrantType) and a real SDK backend that verifies the exchanged token
// against the AS's JWKS and echoes its claims.

const BACKEND = 'https://backend.test'
const DOWNSTREAM = 'api://downstream'

async function writeSecret(dir: string, name: string, text: string): Promise<string> {
  const path = join(dir, name)
  await writeFile(path, text)
  await chmod(path, 0o600)
  return path
}

/** The backend's check: a Bearer token issued by the AS for `audience`. */
function verifyExchanged(stack: () => GatewayStack, audience: string) {
  return async (req: IncomingMessage): Promise<Record<string, unknown> | undefined> => {
    const match = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')
    if (match === null) return undefined
    try {
      const as = stack().as
      const { payload } = await jwtVerify(match[1] as string, createRemoteJWKSet(new URL(as.jwksUri)), { issuer: as.issuer, audience })
      return payload
    } catch {
      return undefined
    }
  }
}

const exchangesOf = (stack: GatewayStack, grant = TOKEN_EXCHANGE) => stack.as.exchanges.counts.get(grant) ?? 0

async function connect(url: string, token: string): Promise<Client> {
  const client = new Client({ name: 'exchange-test', version: '1.0.0' })
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }))
  return client
}

describe('exchange mode, rfc8693: the backend gets a token for itself with the caller\'s sub', () => {
  let stack: GatewayStack
  let temp: Awaited<ReturnType<typeof makeTempDir>>
  let blocked = ''

  before(async () => {
    temp = await makeTempDir()
    const secret = await writeSecret(temp.dir, 'secret', GATEWAY_CLIENT.clientSecret)
    const file = join(temp.dir, 'gateway.yaml')
    await writeFile(
      file,
      [
        'upstreamIdentity:',
        '  mode: exchange',
        '  exchange:',
        `    clientId: ${GATEWAY_CLIENT.clientId}`,
        `    clientSecretFile: ${secret}`,
        `    audience: ${BACKEND}`,
        '    scope: [backend:read]',
        '    tools: { whoami_admin: [backend:admin], add: [backend:denied] }',
        '    actorToken: client-credentials',
        '    appOnlyFallback: client-credentials',
        '',
      ].join('\n'),
    )
    stack = await startGatewayStack({
      argv: ['--config', file],
      // SSE streams the SDK client leaves open would hold each close for the default 30 s drain.
      env: { MCP_SHUTDOWN_TIMEOUT: '1s' },
      extraResources: { [BACKEND]: { scope: 'backend:read backend:admin backend:denied', format: 'jwt' } },
      authorizationServer: {
        exchange: {
          refuse: (params) =>
            params['subject_token'] === blocked ? 'invalid_grant' : params['scope']?.includes('backend:denied') === true ? 'consent_required' : undefined,
        },
      },
      backend: { identify: verifyExchanged(() => stack, BACKEND) },
    })
  })
  after(async () => {
    await stack?.close()
    await temp?.remove()
  })

  const userToken = (accountId: string, ttlSeconds?: number) =>
    stack.as.userToken({ accountId, resource: stack.gateway.canonicalUri, scope: 'mcp:read mcp:write', ...(ttlSeconds === undefined ? {} : { ttlSeconds }) })

  test("the tool result shows the caller's sub under the backend's audience, the gateway as actor; the client's token reached only the AS", async () => {
    const token = await userToken('alice')
    const seen = (await whoami(stack.gateway.canonicalUri, token)) as Record<string, unknown>
    assert.equal(seen['sub'], 'alice')
    assert.equal(seen['aud'], BACKEND)
    assert.equal(seen['scope'], 'backend:read')
    assert.deepEqual(seen['act'], { sub: GATEWAY_CLIENT.clientId })
    assertNeverSent(stack.backend.requests, token)
    assert.ok(stack.as.exchanges.subjectTokens.includes(token))
  })

  test('100 calls of one user make one exchange; a second user makes a second', async () => {
    const token = await userToken('bob')
    const before = exchangesOf(stack)
    const client = await connect(stack.gateway.canonicalUri, token)
    try {
      for (let i = 0; i < 100; i++) {
        const result = (await client.callTool({ name: 'echo', arguments: { text: `n${i}` } })) as CallToolResult
        assert.deepEqual(result.content, [{ type: 'text', text: `n${i}` }])
      }
    } finally {
      await client.close()
    }
    assert.equal(exchangesOf(stack) - before, 1)
    assert.equal((await whoami(stack.gateway.canonicalUri, await userToken('carol')))?.['sub'], 'carol')
    assert.equal(exchangesOf(stack) - before, 2)
  })

  test('concurrent first calls of one token make one exchange', async () => {
    const token = await userToken('dave')
    const before = exchangesOf(stack)
    const answers = await Promise.all(Array.from({ length: 10 }, () => postMcp(stack.gateway, `Bearer ${token}`, INITIALIZE_BODY)))
    for (const answer of answers) assert.equal(answer.status, 200, answer.body)
    assert.equal(exchangesOf(stack) - before, 1)
  })

  test('per-tool scopes: a tool with its own scopes gets its own exchanged token', async () => {
    const token = await userToken('erin')
    const client = await connect(stack.gateway.canonicalUri, token)
    try {
      // `whoami` has the default scope; the AS refuses `add`'s scope (consent_required).
      const result = (await client.callTool({ name: 'whoami', arguments: {} })) as CallToolResult
      assert.equal((JSON.parse((result.content[0] as { text: string }).text) as { scope: string }).scope, 'backend:read')
      const refused = await client.callTool({ name: 'add', arguments: { a: 1, b: 2 } }).then(
        () => assert.fail('expected the call to fail'),
        (error: unknown) => error,
      )
      // What the SDK client shows: an McpError with the gateway's code, the audience and the AS's error.
      assert.ok(refused instanceof McpError, String(refused))
      assert.equal(refused.code, IDENTITY_REFUSED_CODE)
      assert.match(refused.message, /https:\/\/backend\.test: consent_required/)
      assert.ok(!refused.message.includes(token))
    } finally {
      await client.close()
    }
  })

  test('a refused exchange outside a tool call is a 403 naming the audience and the AS error, never the token', async () => {
    blocked = await userToken('frank')
    const answer = await postMcp(stack.gateway, `Bearer ${blocked}`)
    assert.equal(answer.status, 403)
    assert.equal(answer.headers['www-authenticate'], undefined)
    assert.deepEqual(JSON.parse(answer.body), {
      error: 'identity_refused',
      error_description: `The authorization server refused a token for ${BACKEND}: invalid_grant`,
    })
  })

  test('metrics count exchanges and cache hits with their latency; audit records name the mode and audience, never a token', async () => {
    const metrics = createMetrics({ calls: mcpCallPaths(stack.gateway.config), defaultMetrics: false })
    const decisions: DecisionEvent[] = []
    const onDecision = (message: unknown) => decisions.push(message as DecisionEvent)
    events.decision.subscribe(onDecision)
    const token = await userToken('heidi')
    try {
      await postMcp(stack.gateway, `Bearer ${token}`)
      await postMcp(stack.gateway, `Bearer ${token}`)
      const text = await metrics.render()
      assert.match(text, /^mcp_token_exchange_total\{outcome="issued"\} 1$/m)
      assert.match(text, /^mcp_token_exchange_total\{outcome="cache_hit"\} 1$/m)
      assert.match(text, /^mcp_obo_exchange_latency_ms_count 1$/m)
    } finally {
      metrics.close()
      events.decision.unsubscribe(onDecision)
    }
    assert.equal(decisions.length, 2)
    for (const decision of decisions) {
      const line = auditLine(decision)
      assert.match(line, new RegExp(`"identity":"exchange","downstream_aud":"${BACKEND}"`))
      assert.ok(!line.includes(token))
    }
  })

  test('check finds the token endpoint by discovery and probes the credentials without a real token', async () => {
    const config = stack.gateway.config
    const lines = (await runChecks(config)).filter((r) => r.id.startsWith('identity.'))
    assert.deepEqual(
      lines.map((r) => [r.id, r.status]),
      [
        ['identity.token-endpoint', 'ok'],
        ['identity.client', 'ok'],
      ],
    )
    assert.equal(lines[0]?.message, `token endpoint ${stack.as.tokenEndpoint}`)
    const identity = config.upstreamIdentity
    assert.equal(identity.mode, 'exchange')
    if (identity.mode !== 'exchange') return
    const wrong = { ...config, upstreamIdentity: { ...identity, clientAuth: { method: 'client_secret_basic' as const, secret: new Secret('wrong') } } }
    const refused = (await checkUpstreamIdentity(wrong)).find((r) => r.id === 'identity.client')
    assert.equal(refused?.status, 'fail')
    assert.match(refused?.message ?? '', /invalid_client$/)
    assert.ok(!JSON.stringify(refused).includes('wrong'))
    // With a real user's token, one real exchange.
    const real = (await checkUpstreamIdentity(config, { exchangeToken: await userToken('ivan') })).find((r) => r.id === 'identity.exchange')
    assert.equal(real?.status, 'ok')
    assert.equal(real?.message, `exchanged the given token for ${BACKEND} (expires_in 3600s)`)
  })

  test("app-only caller: the gateway's own client-credentials token, for the backend's audience", async () => {
    const seen = (await whoami(stack.gateway.canonicalUri, await stack.token())) as Record<string, unknown>
    assert.equal(seen['sub'], GATEWAY_CLIENT.clientId)
    assert.equal(seen['aud'], BACKEND)
  })

  test("an exchanged token is never used past the client token's exp: the AS is asked again", async () => {
    const token = await userToken('grace', 2)
    const before = exchangesOf(stack)
    assert.equal((await postMcp(stack.gateway, `Bearer ${token}`)).status, 200)
    assert.equal((await postMcp(stack.gateway, `Bearer ${token}`)).status, 200)
    assert.equal(exchangesOf(stack) - before, 1)
    await new Promise((resolve) => setTimeout(resolve, 2100))
    // Still inside the gateway's clock skew, so verified; but its exchanged token went with its
    // `exp`: the AS is asked again and refuses the expired subject token.
    const late = await postMcp(stack.gateway, `Bearer ${token}`)
    assert.equal(late.status, 403, late.body)
    assert.match(JSON.parse(late.body).error_description, /invalid_grant$/)
    assert.equal(exchangesOf(stack) - before, 2)
    assert.equal((await postMcp(stack.gateway, `Bearer ${await userToken('grace')}`)).status, 200)
    assert.equal(exchangesOf(stack) - before, 3)
  })
})

describe('exchange mode, entra-obo with private_key_jwt', () => {
  let stack: GatewayStack
  let temp: Awaited<ReturnType<typeof makeTempDir>>

  before(async () => {
    temp = await makeTempDir()
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const keyFile = await writeSecret(temp.dir, 'client.pem', privateKey.export({ format: 'pem', type: 'pkcs8' }) as string)
    const file = join(temp.dir, 'gateway.yaml')
    await writeFile(
      file,
      [
        'upstreamIdentity:',
        '  mode: exchange',
        '  exchange:',
        '    flavour: entra-obo',
        '    clientId: gateway-pkjwt',
        `    privateKeyJwt: { keyFile: ${keyFile}, kid: pk1 }`,
        `    scope: [${DOWNSTREAM}/.default]`,
        '',
      ].join('\n'),
    )
    stack = await startGatewayStack({
      argv: ['--config', file],
      // SSE streams the SDK client leaves open would hold each close for the default 30 s drain.
      env: { MCP_SHUTDOWN_TIMEOUT: '1s' },
      extraResources: { [DOWNSTREAM]: { scope: 'files:read', format: 'jwt' } },
      authorizationServer: {
        exchange: {},
        extraClients: [
          {
            client_id: 'gateway-pkjwt',
            token_endpoint_auth_method: 'private_key_jwt',
            token_endpoint_auth_signing_alg: 'ES256',
            jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'pk1', alg: 'ES256', use: 'sig' }] },
            grant_types: [JWT_BEARER],
            redirect_uris: [],
            response_types: [],
          },
        ],
      },
      backend: { identify: verifyExchanged(() => stack, DOWNSTREAM) },
    })
  })
  after(async () => {
    await stack?.close()
    await temp?.remove()
  })

  test("the On-Behalf-Of token carries the user's sub for the downstream API", async () => {
    const token = await stack.as.userToken({ accountId: 'alice', resource: stack.gateway.canonicalUri, scope: 'mcp:read' })
    const before = exchangesOf(stack, JWT_BEARER)
    const seen = (await whoami(stack.gateway.canonicalUri, token)) as Record<string, unknown>
    assert.equal(seen['sub'], 'alice')
    assert.equal(seen['aud'], DOWNSTREAM)
    assert.equal(seen['client_id'], 'gateway-pkjwt')
    assert.equal(exchangesOf(stack, JWT_BEARER) - before, 1)
    assertNeverSent(stack.backend.requests, token)
  })

  test('an app-only token is refused clearly (On-Behalf-Of needs a user), without asking the AS', async () => {
    const before = exchangesOf(stack, JWT_BEARER)
    const answer = await postMcp(stack.gateway, `Bearer ${await stack.token()}`)
    assert.equal(answer.status, 403)
    assert.equal(JSON.parse(answer.body).error_description, `The authorization server refused a token for ${DOWNSTREAM}/.default: app_only_token`)
    assert.equal(exchangesOf(stack, JWT_BEARER), before)
  })
})

describe('exchange mode: the token endpoint failing', () => {
  let stack: GatewayStack
  let failing: FailingAuthorizationServer
  let gateway: TestGateway
  let temp: Awaited<ReturnType<typeof makeTempDir>>

  before(async () => {
    temp = await makeTempDir()
    stack = await startGatewayStack({ extraResources: { [BACKEND]: { scope: 'backend:read', format: 'jwt' } }, authorizationServer: { exchange: {} } })
    failing = await startFailingAuthorizationServer({ upstream: stack.as.tokenEndpoint, slowMs: 5000 })
    const secret = await writeSecret(temp.dir, 'secret', GATEWAY_CLIENT.clientSecret)
    const file = join(temp.dir, 'gateway.yaml')
    await writeFile(
      file,
      `upstreamIdentity:\n  mode: exchange\n  exchange:\n    clientId: gateway\n    clientSecretFile: ${secret}\n    audience: ${BACKEND}\n    tokenEndpoint: ${failing.introspectionEndpoint}\n    timeout: 500ms\n`,
    )
    gateway = await startTestGateway({
      argv: ['--config', file],
      env: { MCP_AUTHORIZATION_SERVER: stack.as.issuer, MCP_JWKS_URI: stack.as.jwksUri, MCP_BACKEND: stack.backend.origin },
    })
  })
  after(async () => {
    await gateway?.close()
    await failing?.close()
    await stack?.close()
    await temp?.remove()
  })

  for (const mode of ['slow', 'down', 'status-500', 'bad-json'] as const) {
    test(`${mode}: 503 with Retry-After within the configured timeout, nothing forwarded`, async () => {
      await failing.setMode(mode)
      const token = await stack.as.userToken({ accountId: `u-${mode}`, resource: gateway.canonicalUri, scope: 'mcp:read' })
      const before = stack.backend.requests.length
      const started = performance.now()
      const answer = await postMcp(gateway, `Bearer ${token}`)
      assert.ok(performance.now() - started < 2000, `answered after ${Math.round(performance.now() - started)} ms`)
      assert.equal(answer.status, 503, answer.body)
      assert.equal(answer.headers['retry-after'], '5')
      assert.equal(JSON.parse(answer.body).error, 'identity_unavailable')
      assert.equal(stack.backend.requests.length, before)
    })
  }

  test('pass: the same gateway exchanges once the endpoint answers', async () => {
    await failing.setMode('pass')
    const token = await stack.as.userToken({ accountId: 'u-pass', resource: gateway.canonicalUri, scope: 'mcp:read' })
    assert.equal((await postMcp(gateway, `Bearer ${token}`)).status, 200)
  })
})

describe('exchange mode, shared cache: two gateways on one Redis exchange a user token once', () => {
  let stack: GatewayStack
  let second: TestGateway
  let temp: Awaited<ReturnType<typeof makeTempDir>>
  const prefix = `mcp-gw-test-exchange-${randomUUID()}:`

  before(async () => {
    temp = await makeTempDir()
    const secret = await writeSecret(temp.dir, 'secret', GATEWAY_CLIENT.clientSecret)
    const sealKey = await writeSecret(temp.dir, 'cache-key', `${randomBytes(32).toString('base64')}\n`)
    const file = join(temp.dir, 'gateway.yaml')
    await writeFile(
      file,
      [
        'redis:',
        '  url: redis://127.0.0.1:6379',
        `  keyPrefix: "${prefix}"`,
        'upstreamIdentity:',
        '  mode: exchange',
        '  exchange:',
        `    clientId: ${GATEWAY_CLIENT.clientId}`,
        `    clientSecretFile: ${secret}`,
        `    audience: ${BACKEND}`,
        '    scope: [backend:read]',
        `    sharedCache: { keyFile: ${sealKey} }`,
        '',
      ].join('\n'),
    )
    stack = await startGatewayStack({
      argv: ['--config', file],
      // SSE streams the SDK client leaves open would hold each close for the default 30 s drain.
      env: { MCP_SHUTDOWN_TIMEOUT: '1s' },
      extraResources: { [BACKEND]: { scope: 'backend:read', format: 'jwt' } },
      authorizationServer: { exchange: {} },
      backend: { identify: verifyExchanged(() => stack, BACKEND) },
    })
    // The second replica: same configuration and canonical URI, its own port and memory.
    second = await startTestGateway({
      argv: ['--config', file],
      env: {
        MCP_CANONICAL_URI: stack.gateway.canonicalUri,
        MCP_AUTHORIZATION_SERVER: stack.as.issuer,
        MCP_JWKS_URI: stack.as.jwksUri,
        MCP_BACKEND: stack.backend.origin,
        MCP_SCOPES_SUPPORTED: 'mcp:read mcp:write',
        MCP_SHUTDOWN_TIMEOUT: '1s',
      },
    })
  })
  after(async () => {
    await second?.close()
    await stack?.close()
    await temp?.remove()
    const redis = new Redis('redis://127.0.0.1:6379')
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
    redis.disconnect()
  })

  test('the second gateway serves the first one\'s exchanged token from Redis; Redis never holds a token in clear', async () => {
    const token = await stack.as.userToken({ accountId: 'carol', resource: stack.gateway.canonicalUri, scope: 'mcp:read' })
    const before = exchangesOf(stack)
    assert.equal(((await whoami(stack.gateway.canonicalUri, token)) as Record<string, unknown>)['sub'], 'carol')
    assert.equal(exchangesOf(stack), before + 1)
    assert.equal(((await whoami(`${second.url}/mcp`, token)) as Record<string, unknown>)['sub'], 'carol')
    assert.equal(exchangesOf(stack), before + 1, 'no second exchange: the replica found the sealed token in Redis')

    const redis = new Redis('redis://127.0.0.1:6379')
    try {
      const keys = await redis.keys(`${prefix}exchange:*`)
      assert.equal(keys.length, 1)
      const stored = (await redis.get(keys[0] as string)) ?? ''
      assert.ok(stored.length > 0)
      assert.ok(!stored.includes(token) && !keys[0]?.includes(token), 'the client token is neither key nor value')
      assert.ok(!/eyJ[A-Za-z0-9_-]{10,}\.eyJ/.test(stored), 'no JWT in clear in the stored value')
    } finally {
      redis.disconnect()
    }
    assertNeverSent(stack.backend.requests, token)
  })
})
