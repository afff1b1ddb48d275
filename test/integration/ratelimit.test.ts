import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import { stringify } from 'yaml'
import { loadConfig } from '../../src/config/load.js'
import { reservePort } from '../../src/demo/reserve-port.js'
import { startGateway, type RunningGateway } from '../../src/server/http.js'
import { headerLines, INITIALIZE_BODY, mcpHeaders, send, type RawResponse } from '../support/gateway.js'
import { startMcpBackend, type McpBackend } from '../support/mcp-backend.js'
import { accessTokenClaims, createTestKeys, mintJwt, type TestKeys } from '../support/tokens.js'

/**
 * Rate limiting through the real gateway: tokens signed with test keys (JWKS file), the SDK MCP
 * server as the backend, counters in memory or in the real Redis at 127.0.0.1:6379 (keys under a
 * prefix unique to this run, deleted at the end). Windows are a minute long, so nothing here
 * depends on time passing.
 */

const ISSUER = 'https://issuer.test'
const CANONICAL = 'http://127.0.0.1:8080/mcp'
const PREFIX = `mcp-rl-gw-test-${randomUUID()}`

let keys: TestKeys
let jwksFile: string
let dir: string
let backend: McpBackend
let redis: Redis
const gateways: RunningGateway[] = []

async function gateway(env: Record<string, string>, argv: string[] = []): Promise<RunningGateway> {
  const config = await loadConfig({
    env: {
      MCP_LISTEN_HOST: '127.0.0.1',
      MCP_LISTEN_PORT: '0',
      MCP_CANONICAL_URI: CANONICAL,
      MCP_RESOURCE_PATH: '/mcp',
      MCP_AUTHORIZATION_SERVER: ISSUER,
      MCP_JWT_KEY_FILE: jwksFile,
      MCP_BACKEND: backend.origin,
      MCP_RATELIMIT_ENABLED: 'on',
      MCP_RATELIMIT_PREFIX: PREFIX,
      ...env,
    },
    argv,
  })
  const running = await startGateway(config)
  gateways.push(running)
  return running
}

async function token(subject: string | undefined, options: { expired?: boolean; key?: 'rsa' | 'ec' } = {}): Promise<string> {
  const claims = accessTokenClaims({
    issuer: ISSUER,
    audience: CANONICAL,
    scope: 'mcp:read',
    subject: subject ?? 'dropped',
    expiresInSeconds: options.expired === true ? -600 : 600,
  })
  if (subject === undefined) delete claims.sub
  return mintJwt({ key: keys[options.key ?? 'rsa'], claims })
}

function post(gw: RunningGateway, authorization: string | undefined, body = INITIALIZE_BODY): Promise<RawResponse> {
  const headers = mcpHeaders(authorization === undefined ? {} : { authorization })
  return send(`${gw.url}/mcp`, { method: 'POST', headers, body })
}

function toolCall(name: string, id = 1): string {
  return JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: { text: 'hi' } } })
}

before(async () => {
  keys = await createTestKeys()
  dir = mkdtempSync(join(tmpdir(), 'mcp-gw-ratelimit-'))
  jwksFile = await keys.writeJwksFile(dir)
  backend = await startMcpBackend({ mode: 'stateless', enableJsonResponse: true })
  redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true, maxRetriesPerRequest: 1 })
  await redis.connect()
})

after(async () => {
  await Promise.allSettled(gateways.map((g) => g.close()))
  await backend.close()
  const leftover = await redis.keys(`${PREFIX}*`)
  if (leftover.length > 0) await redis.del(...leftover)
  assert.deepEqual(await redis.keys(`${PREFIX}*`), [])
  await redis.quit()
  rmSync(dir, { recursive: true, force: true })
})

describe('rate limiting in memory (one gateway)', () => {
  let gw: RunningGateway
  before(async () => {
    gw = await gateway({ MCP_RATELIMIT_RATE: '3r/m' })
  })

  test('the N+1th request in a window gets 429 with Retry-After, and never reaches the backend', async () => {
    const alice = await token('alice-memory')
    const before = backend.requests.length
    for (let i = 0; i < 3; i++) {
      const ok = await post(gw, `Bearer ${alice}`)
      assert.equal(ok.status, 200, ok.body)
      // draft-ietf-httpapi-ratelimit-headers: allowed answers say how much is left.
      assert.match(String(ok.headers['ratelimit-policy']), /q=3;w=60/)
      assert.match(String(ok.headers['ratelimit']), new RegExp(`r=${2 - i}\\b`))
    }
    const refused = await post(gw, `Bearer ${alice}`)
    assert.equal(refused.status, 429)
    assert.match(String(refused.headers['ratelimit']), /r=0\b/)
    const retryAfter = Number(refused.headers['retry-after'])
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After ${refused.headers['retry-after']}`)
    assert.deepEqual(headerLines(refused, 'www-authenticate'), [], 'a 429 is no Bearer challenge')
    assert.deepEqual(JSON.parse(refused.body), { error: 'rate_limited', error_description: 'Too many requests: the default limit' })
    assert.equal(backend.requests.length - before, 3)
    // Under the limit, the token still never went upstream (nginx-mcp-resource N37).
    for (const request of backend.requests.slice(before)) assert.equal(request.headers['authorization'], undefined)
  })

  test('over the limit, a bad token is still a 401, and no token is still a 401', async () => {
    const bob = await token('bob-memory')
    for (let i = 0; i < 4; i++) await post(gw, `Bearer ${bob}`)
    assert.equal((await post(gw, `Bearer ${bob}`)).status, 429)

    const expired = await post(gw, `Bearer ${await token('bob-memory', { expired: true })}`)
    assert.equal(expired.status, 401)
    assert.match(headerLines(expired, 'www-authenticate')[0] ?? '', /^Bearer error="invalid_token"/)
    const forged = (await token('bob-memory')).replace(/\.[^.]+$/, '.AAAA')
    assert.equal((await post(gw, `Bearer ${forged}`)).status, 401)
    assert.equal((await post(gw, undefined)).status, 401)
  })

  test('another subject has its own budget; a token without sub is a 401 invalid_token', async () => {
    const carol = await token('carol-memory')
    assert.equal((await post(gw, `Bearer ${carol}`)).status, 200)
    const noSub = await post(gw, `Bearer ${await token(undefined)}`)
    assert.equal(noSub.status, 401)
    assert.match(headerLines(noSub, 'www-authenticate')[0] ?? '', /^Bearer error="invalid_token"/)
    assert.equal(JSON.parse(noSub.body).error_description, 'The access token has no subject, which rate limiting needs')
  })
})

describe('per-tool limits (file)', () => {
  test('tools.echo: 1r/m refuses the second echo call but not other requests', async () => {
    const file = join(dir, 'tools.yaml')
    writeFileSync(file, stringify({ rateLimit: { enabled: true, rate: '100r/m', tools: { echo: '1r/m' } } }))
    const gw = await gateway({}, ['--config', file])
    const dave = `Bearer ${await token('dave-tools')}`
    const first = await post(gw, dave, toolCall('echo'))
    assert.equal(first.status, 200, first.body)
    assert.match(first.body, /"text":"hi"/)
    const second = await post(gw, dave, toolCall('echo', 2))
    assert.equal(second.status, 429)
    assert.equal((await post(gw, dave)).status, 200, 'initialize is not an echo call')
  })
})

describe('per-client and per-method limits (file)', () => {
  async function clientToken(subject: string, clientId: string): Promise<string> {
    const claims = accessTokenClaims({ issuer: ISSUER, audience: CANONICAL, scope: 'mcp:read', subject, clientId, expiresInSeconds: 600 })
    return mintJwt({ key: keys.rsa, claims })
  }

  test('perClient: the users of one client share its budget; another client has its own; the 429 names the limit', async () => {
    const file = join(dir, 'per-client.yaml')
    writeFileSync(file, stringify({ rateLimit: { enabled: true, rate: '100r/m', perClient: '3r/m' } }))
    const gw = await gateway({}, ['--config', file])
    const statuses = []
    for (const user of ['u1', 'u2', 'u3', 'u4']) statuses.push((await post(gw, `Bearer ${await clientToken(user, 'shared-app')}`)).status)
    assert.deepEqual(statuses, [200, 200, 200, 429])
    const refused = await post(gw, `Bearer ${await clientToken('u5', 'shared-app')}`)
    assert.deepEqual(JSON.parse(refused.body), { error: 'rate_limited', error_description: 'Too many requests: the client limit' })
    assert.match(String(refused.headers['ratelimit-policy']), /"client";q=3;w=60/)
    assert.equal((await post(gw, `Bearer ${await clientToken('u1', 'other-app')}`)).status, 200)
  })

  test('methods: tools/call limited apart from other methods; all-or-nothing (a refused call spends no other budget)', async () => {
    const file = join(dir, 'methods.yaml')
    writeFileSync(file, stringify({ rateLimit: { enabled: true, rate: '3r/m', methods: { 'tools/call': '1r/m' } } }))
    const gw = await gateway({}, ['--config', file])
    const frank = `Bearer ${await token('frank-methods')}`
    assert.equal((await post(gw, frank, toolCall('echo'))).status, 200)
    const second = await post(gw, frank, toolCall('echo', 2))
    assert.equal(second.status, 429)
    assert.equal(JSON.parse(second.body).error_description, 'Too many requests: the method:tools/call limit')
    // The refused call did not spend the per-principal budget: two more requests of another method pass.
    assert.equal((await post(gw, frank)).status, 200)
    assert.equal((await post(gw, frank)).status, 200)
    assert.equal((await post(gw, frank)).status, 429)
  })
})

describe('rate limiting in Redis (several gateways count as one)', () => {
  test('two gateway instances sharing Redis count together', async () => {
    const env = { MCP_RATELIMIT_RATE: '4r/m', MCP_RATELIMIT_REDIS: '127.0.0.1:6379', MCP_RATELIMIT_ALGO: 'token_bucket' }
    const [one, two] = [await gateway(env), await gateway(env)]
    const erin = `Bearer ${await token('erin-redis')}`
    // The first requests may find the connection still opening: wait for it through the gateway.
    await untilNot503(one, `Bearer ${await token('warm-up-1')}`)
    await untilNot503(two, `Bearer ${await token('warm-up-2')}`)
    const statuses = []
    for (const gw of [one, two, one, two, one, two]) statuses.push((await post(gw, erin)).status)
    assert.deepEqual(statuses, [200, 200, 200, 200, 429, 429])
    const keysNow = await redis.keys(`${PREFIX}:*`)
    assert.ok(keysNow.length >= 1, 'counters live in Redis')
    assert.ok(keysNow.every((k) => !k.includes('erin')), 'keys hold a hash, not the subject')
  })

  test('with only the shared Redis (MCP_REDIS_URL), the counters live there too: one connection block serves every feature', async () => {
    const env = { MCP_RATELIMIT_RATE: '2r/m', MCP_REDIS_URL: 'redis://127.0.0.1:6379', MCP_RATELIMIT_ALGO: 'fixed_window' }
    const [one, two] = [await gateway(env), await gateway(env)]
    const gina = `Bearer ${await token('gina-shared')}`
    await untilNot503(one, `Bearer ${await token('warm-up-3')}`)
    await untilNot503(two, `Bearer ${await token('warm-up-4')}`)
    const statuses = []
    for (const gw of [one, two, one]) statuses.push((await post(gw, gina)).status)
    assert.deepEqual(statuses, [200, 200, 429])
    assert.ok((await redis.keys(`${PREFIX}:*`)).length >= 1, 'counters live in Redis')
  })

  test('Redis unreachable with MCP_RATELIMIT_ON_ERROR=deny (default): 503 with Retry-After; a bad token is still 401', async () => {
    const port = await reservePort()
    const gw = await gateway({ MCP_RATELIMIT_RATE: '4r/m', MCP_RATELIMIT_REDIS: `127.0.0.1:${port}` })
    const refused = await post(gw, `Bearer ${await token('frank-down')}`)
    assert.equal(refused.status, 503)
    assert.equal(refused.headers['retry-after'], '5')
    assert.deepEqual(JSON.parse(refused.body), {
      error: 'rate_limit_unavailable',
      error_description: 'Rate limiting is temporarily unavailable',
    })
    assert.equal((await post(gw, `Bearer ${await token('frank-down', { expired: true })}`)).status, 401)
  })

  test('Redis unreachable with MCP_RATELIMIT_ON_ERROR=allow: requests pass', async () => {
    const port = await reservePort()
    const gw = await gateway({ MCP_RATELIMIT_RATE: '1r/m', MCP_RATELIMIT_REDIS: `127.0.0.1:${port}`, MCP_RATELIMIT_ON_ERROR: 'allow' })
    const grace = `Bearer ${await token('grace-down')}`
    assert.deepEqual([(await post(gw, grace)).status, (await post(gw, grace)).status], [200, 200])
  })
})

/** Posts until the answer is not a 503 (bounded): the gateway's Redis connection is then ready. */
async function untilNot503(gw: RunningGateway, authorization: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if ((await post(gw, authorization)).status !== 503) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error('the gateway never reached Redis')
}
