import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { Agent } from 'undici'
import { stringify } from 'yaml'
import { loadConfig } from '../../src/config/load.js'
import { startGateway, type RunningGateway } from '../../src/server/http.js'
import { startAuthorizationServer, type AuthorizationServer } from '../support/authorization-server.js'
import { startFailingAuthorizationServer, type FailingAuthorizationServer } from '../support/failing-as.js'
import { startRawBackend, type RawBackend } from '../support/raw-backend.js'

/**
 * Issue 4, RFC 7662 against a real authorization server: oidc-provider issues opaque tokens for
 * the gateway's resource and answers introspection for the `gateway` client. The only fake is
 * test/support/failing-as.ts, which forwards to oidc-provider until a test makes it fail.
 */

const RESOURCE = 'https://mcp.example.com/mcp'
const OTHER = 'https://other.example.com/mcp'
/** Opaque tokens with `aud` = RESOURCE that live 2 seconds. */
const SHORT = 'https://short.example.com/mcp'
const INTROSPECTION = '/token/introspection'

let as: AuthorizationServer
let backend: RawBackend
let dir: string
let secretFile: string
const gateways: RunningGateway[] = []

before(async () => {
  as = await startAuthorizationServer({
    resources: {
      [RESOURCE]: { scope: 'mcp:read mcp:write', format: 'opaque' },
      [OTHER]: { scope: 'mcp:read', format: 'opaque' },
      [SHORT]: { scope: 'mcp:read', format: 'opaque', ttlSeconds: 2, audience: RESOURCE },
    },
    extraClients: [
      {
        client_id: 'gateway-post',
        client_secret: 'post secret: with %, & and +',
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
  })
  backend = await startRawBackend((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('{"jsonrpc":"2.0","id":1,"result":{}}')
  })
  dir = mkdtempSync(join(tmpdir(), 'mcp-gw-introspection-'))
  secretFile = writeSecret('client-secret', 'gateway-secret\n')
})

after(async () => {
  await Promise.all(gateways.map((g) => g.close()))
  await backend.close()
  await as.close()
  rmSync(dir, { recursive: true, force: true })
})

function writeSecret(name: string, content: string): string {
  const path = join(dir, name)
  writeFileSync(path, content)
  chmodSync(path, 0o600)
  return path
}

async function startIntrospectingGateway(env: Record<string, string> = {}, argv: string[] = []): Promise<RunningGateway> {
  const config = await loadConfig({
    env: {
      MCP_LISTEN_HOST: '127.0.0.1',
      MCP_LISTEN_PORT: '0',
      MCP_CANONICAL_URI: RESOURCE,
      MCP_RESOURCE_PATH: '/mcp',
      MCP_AUTHORIZATION_SERVER: as.issuer,
      MCP_AUTH_MODE: 'introspect',
      MCP_INTROSPECT_ENDPOINT: as.introspectionEndpoint,
      MCP_CLIENT_ID: 'gateway',
      MCP_CLIENT_SECRET_FILE: secretFile,
      MCP_REQUIRED_SCOPE: 'mcp:read',
      MCP_SCOPES_SUPPORTED: 'mcp:read,mcp:write',
      MCP_BACKEND: backend.origin,
      ...env,
    },
    argv,
  })
  const gateway = await startGateway(config)
  gateways.push(gateway)
  return gateway
}

async function callMcp(gateway: RunningGateway, token: string): Promise<Response> {
  return fetch(`${gateway.url}/mcp`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-06-18',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
  })
}

const opaqueToken = (resource = RESOURCE, scope = 'mcp:read') => as.clientCredentialsToken({ resource, scope })
const introspections = () => as.requestCount(INTROSPECTION)

async function expectRefused(response: Response, status: number, error: string): Promise<void> {
  assert.equal(response.status, status)
  assert.match(response.headers.get('www-authenticate') ?? '', new RegExp(`^Bearer error="${error}"`))
  assert.equal(((await response.json()) as { error: string }).error, error)
}

describe('introspection mode against oidc-provider', () => {
  let gateway: RunningGateway

  before(async () => {
    gateway = await startIntrospectingGateway()
  })

  test('an active opaque token passes, and the token is not forwarded upstream', async () => {
    const token = await opaqueToken()
    assert.equal(token.split('.').length, 1, 'oidc-provider issued an opaque token')
    const seen = backend.requests.length
    const response = await callMcp(gateway, token)
    assert.equal(response.status, 200)
    assert.deepEqual(await response.json(), { jsonrpc: '2.0', id: 1, result: {} })
    const forwarded = backend.requests[seen]
    assert.ok(forwarded !== undefined)
    assert.equal(forwarded.headers['authorization'], undefined)
  })

  test('a cached answer serves the same token again without asking the AS', async () => {
    const token = await opaqueToken()
    const before = introspections()
    assert.equal((await callMcp(gateway, token)).status, 200)
    assert.equal(introspections(), before + 1)
    for (let i = 0; i < 3; i++) assert.equal((await callMcp(gateway, token)).status, 200)
    assert.equal(introspections(), before + 1)
  })

  test('N parallel requests with one new token make exactly one introspection call', async () => {
    const token = await opaqueToken()
    const before = introspections()
    const responses = await Promise.all(Array.from({ length: 25 }, () => callMcp(gateway, token)))
    assert.deepEqual(
      responses.map((r) => r.status),
      responses.map(() => 200),
    )
    assert.equal(introspections(), before + 1)
  })

  test('an unknown token is inactive: 401 invalid_token, and the inactive answer is reused briefly', async () => {
    const bogus = `opaque-${randomUUID()}`
    const before = introspections()
    await expectRefused(await callMcp(gateway, bogus), 401, 'invalid_token')
    await expectRefused(await callMcp(gateway, bogus), 401, 'invalid_token')
    assert.equal(introspections(), before + 1, 'the second refusal came from the inactive-answer cache')
  })

  test('a token for another resource is refused on its audience', async () => {
    const token = await opaqueToken(OTHER)
    const introspected = await as.introspect(token)
    assert.equal(introspected.active, true)
    assert.equal(introspected['aud'], OTHER)
    await expectRefused(await callMcp(gateway, token), 401, 'invalid_token')
  })

  test('an active token without the required scope gets 403 insufficient_scope', async () => {
    const token = await opaqueToken(RESOURCE, 'mcp:write')
    const response = await callMcp(gateway, token)
    assert.equal(response.status, 403)
    assert.match(response.headers.get('www-authenticate') ?? '', /error="insufficient_scope"/)
    assert.match(response.headers.get('www-authenticate') ?? '', /scope="mcp:read"/)
  })

  test('an expired token is refused (the AS reports it inactive)', async () => {
    const token = await opaqueToken(SHORT)
    await sleep(2_300)
    assert.deepEqual(await as.introspect(token), { active: false })
    await expectRefused(await callMcp(gateway, token), 401, 'invalid_token')
  })

  test("the cache entry ends at the token's exp, long before the 60s max TTL", async () => {
    const token = await opaqueToken(SHORT)
    const before = introspections()
    assert.equal((await callMcp(gateway, token)).status, 200)
    assert.equal((await callMcp(gateway, token)).status, 200)
    assert.equal(introspections(), before + 1)
    await sleep(2_300)
    await expectRefused(await callMcp(gateway, token), 401, 'invalid_token')
    assert.equal(introspections(), before + 2, 'the entry was gone at exp, so the AS was asked again')
  })
})

describe('revocation at the AS', () => {
  test('a revoked token is refused once its cache entry ends (max TTL 1s)', async () => {
    const gateway = await startIntrospectingGateway({ MCP_INTROSPECT_CACHE_MAX_TTL: '1s' })
    const token = await opaqueToken()
    assert.equal((await callMcp(gateway, token)).status, 200)
    await as.revoke(token)
    assert.deepEqual(await as.introspect(token), { active: false })
    // Within the max TTL the cached answer still serves: the documented revocation lag.
    assert.equal((await callMcp(gateway, token)).status, 200)
    await sleep(1_200)
    await expectRefused(await callMcp(gateway, token), 401, 'invalid_token')
  })
})

describe('client authentication', () => {
  test('client_secret_post sends the credentials in the form body', async () => {
    const postSecret = writeSecret('post-secret', 'post secret: with %, & and +\r\n')
    const gateway = await startIntrospectingGateway({
      MCP_CLIENT_ID: 'gateway-post',
      MCP_CLIENT_SECRET_FILE: postSecret,
      MCP_INTROSPECT_AUTH_METHOD: 'post',
    })
    assert.equal((await callMcp(gateway, await opaqueToken())).status, 200)
  })

  test('client_secret_basic form-encodes a secret with reserved characters (RFC 6749 §2.3.1)', async () => {
    // Sent raw (as nginx-mcp-resource does), this secret makes oidc-provider answer 400
    // "not properly encoded", which the gateway would turn into a 503.
    const reserved = writeSecret('reserved-secret-basic', 'post secret: with %, & and +\n')
    const gateway = await startIntrospectingGateway({ MCP_CLIENT_ID: 'gateway-post', MCP_CLIENT_SECRET_FILE: reserved })
    assert.equal((await callMcp(gateway, await opaqueToken())).status, 200)
  })

  test('a wrong client secret is a 503 (the AS refused the gateway), never a 401 for the caller', async () => {
    const wrong = writeSecret('wrong-secret', 'not-the-secret\n')
    const gateway = await startIntrospectingGateway({ MCP_CLIENT_SECRET_FILE: wrong })
    const response = await callMcp(gateway, await opaqueToken())
    assert.equal(response.status, 503)
    assert.equal(response.headers.get('www-authenticate'), null)
    assert.equal(response.headers.get('retry-after'), '5')
  })
})

describe('authorization server down', () => {
  let failing: FailingAuthorizationServer
  let gateway: RunningGateway

  before(async () => {
    failing = await startFailingAuthorizationServer({ upstream: as.introspectionEndpoint })
    gateway = await startIntrospectingGateway({ MCP_INTROSPECT_ENDPOINT: failing.introspectionEndpoint })
  })
  after(async () => {
    await failing.close()
  })

  test('503 with Retry-After and no challenge while down, a cached answer still serves, then recovery', async () => {
    const cached = await opaqueToken()
    assert.equal((await callMcp(gateway, cached)).status, 200)
    const fresh = await opaqueToken()

    await failing.setMode('down')
    const refused = await callMcp(gateway, fresh)
    assert.equal(refused.status, 503)
    assert.equal(refused.headers.get('retry-after'), '5')
    assert.equal(refused.headers.get('www-authenticate'), null)
    assert.equal(((await refused.json()) as { error: string }).error, 'verifier_unavailable')
    assert.equal((await callMcp(gateway, cached)).status, 200, 'the cached answer serves while the AS is down')

    await failing.setMode('pass')
    assert.equal((await callMcp(gateway, fresh)).status, 200, 'the failure was not cached')
  })
})

describe('Redis store shared by two gateways', () => {
  const prefix = `mcp-gw-test-${randomUUID()}:`
  let redis: Redis

  before(() => {
    redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 })
  })
  after(async () => {
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
    await redis.quit()
  })

  test('an answer introspected by one gateway is served by the other, keyed by a hash of the token', async () => {
    const file = join(dir, 'redis.yaml')
    writeFileSync(file, stringify({ redis: { url: 'redis://127.0.0.1:6379', keyPrefix: prefix } }))
    const first = await startIntrospectingGateway({}, ['--config', file])
    const second = await startIntrospectingGateway({}, ['--config', file])
    const token = await opaqueToken()
    const before = introspections()
    assert.equal((await callMcp(first, token)).status, 200)
    assert.equal((await callMcp(second, token)).status, 200)
    assert.equal(introspections(), before + 1, 'the second gateway read the first one\'s answer from Redis')

    const keys = await redis.keys(`${prefix}*`)
    assert.equal(keys.length, 1)
    const key = keys[0] as string
    assert.ok(!key.includes(token), 'the key never holds the token')
    const ttl = await redis.pttl(key)
    assert.ok(ttl > 0 && ttl <= 60_000, `entry lives at most the max TTL (pttl ${ttl})`)
  })
})

describe('introspection calls are capped (MCP_INTROSPECT_MAX_RATE)', () => {
  test('a flood of random tokens reaches the AS at most per client and in total; past it 503 + Retry-After; cached answers never count', async () => {
    const gateway = await startIntrospectingGateway({ MCP_INTROSPECT_MAX_RATE: '5,8' })
    const known = await opaqueToken()
    assert.equal((await callMcp(gateway, known)).status, 200)

    // Two client addresses on loopback: 127.0.0.1 (fetch's default) and 127.0.0.2.
    const second = new Agent({ connect: { localAddress: '127.0.0.2' } })
    const flood = (dispatcher?: Agent) =>
      fetch(`${gateway.url}/mcp`, {
        method: 'POST',
        headers: { authorization: `Bearer opaque-${randomUUID()}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
        ...(dispatcher === undefined ? {} : { dispatcher }),
      } as RequestInit)
    try {
      const before = introspections()
      const started = performance.now()
      // Another address first: a bucket of its own, drawing on the total.
      const other = await Promise.all(Array.from({ length: 3 }, () => flood(second)))
      assert.deepEqual(other.map((r) => r.status), [401, 401, 401])
      const first = await Promise.all(Array.from({ length: 20 }, () => flood()))
      const statuses = first.map((r) => r.status)
      // Buckets refill while the requests run (5/s per client, 8/s in total): the bounds allow it.
      const refill = (rate: number) => Math.ceil((rate * (performance.now() - started)) / 1000)
      const capped = first.filter((r) => r.status === 503)
      assert.ok(capped.length >= 1, statuses.join(' '))
      assert.ok(statuses.filter((s) => s === 401).length <= 5 + refill(5), `per client: ${statuses.join(' ')}`)
      for (const r of capped) {
        assert.ok(Number(r.headers.get('retry-after')) >= 1)
        assert.equal(r.headers.get('www-authenticate'), null)
        assert.equal(((await r.json()) as { error: string }).error, 'introspection_capped')
      }
      // In total: 8 per second for every address together (one went to `known` before).
      const calls = introspections() - before
      assert.ok(calls <= 8 + refill(8), `${calls} introspection calls for 23 random tokens`)
      // A known token is served from the cache while the cap holds: it costs no call.
      assert.equal((await callMcp(gateway, known)).status, 200)
      assert.equal(introspections() - before, calls)
      await Promise.all(first.map((r) => (r.bodyUsed ? undefined : r.arrayBuffer())))
      await Promise.all(other.map((r) => r.arrayBuffer()))
    } finally {
      await second.close()
    }
  })
})
