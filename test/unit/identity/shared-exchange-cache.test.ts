import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createSecretKey, randomBytes, randomUUID, type KeyObject } from 'node:crypto'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { Secret } from '../../../src/common/secret-file.js'
import { loadConfig } from '../../../src/config/load.js'
import { reservePort } from '../../../src/demo/reserve-port.js'
import { ConfigError } from '../../../src/errors.js'
import { ExchangeCache } from '../../../src/identity/exchange-cache.js'
import { createExchangeIdentity } from '../../../src/identity/exchange-identity.js'
import type { TokenRequest } from '../../../src/identity/exchange-request.js'
import type { ExchangeSettings } from '../../../src/identity/settings.js'
import type { TokenEndpointClient } from '../../../src/identity/token-endpoint.js'
import type { UpstreamIdentity } from '../../../src/identity/upstream-identity.js'
import type { RedisConfig } from '../../../src/state/redis-config.js'
import type { Principal } from '../../../src/token/principal.js'

// Issue 15, "Cache": exchanged tokens shared through the real Redis on 127.0.0.1:6379, sealed
// with AES-256-GCM under a key from a file. Each test uses its own key prefix; nothing is flushed.

const newKey = () => createSecretKey(randomBytes(32))
const AUDIENCE = 'https://backend.example.com'

function settings(redis: RedisConfig | undefined, key: KeyObject): ExchangeSettings {
  return {
    mode: 'exchange',
    flavour: 'rfc8693',
    tokenEndpoint: 'https://as.example.com/token',
    issuer: 'https://as.example.com',
    clientId: 'gw',
    clientAuth: { method: 'client_secret_basic', secret: new Secret('s') },
    audience: AUDIENCE,
    resource: undefined,
    scope: ['backend:read'],
    tools: new Map(),
    actorToken: 'none',
    appOnlyFallback: 'exchange',
    header: 'authorization',
    cacheMarginMs: 60_000,
    cacheSize: 100,
    timeoutMs: 1000,
    sharedCache: redis === undefined ? undefined : { redis, key },
  }
}

/** The token endpoint both "gateways" ask, counting exchanges; each answer is a distinct token. */
function countingEndpoint(): TokenEndpointClient & { calls: TokenRequest[] } {
  const calls: TokenRequest[] = []
  return {
    calls,
    endpoint: async () => 'https://as.example.com/token',
    async request(request) {
      calls.push(request)
      return { accessToken: `exchanged-${randomUUID()}`, expiresIn: 300 }
    },
  }
}

const redisAt = (port: number, keyPrefix: string): RedisConfig => ({
  url: `redis://127.0.0.1:${port}`,
  username: undefined,
  password: undefined,
  keyPrefix,
  commandTimeout: 500,
})

function caller(token: string) {
  const principal: Principal = { issuer: 'https://as.example.com', subject: 'alice', clientId: 'app', scopes: new Set(), expiresAt: Date.now() / 1000 + 3600, claims: {} }
  return { token, principal, tool: undefined, jsonRpcId: undefined }
}

/** Bounded: up to 5 s for a redis-server this test started. */
async function waitForRedis(port: number): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const probe = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    probe.on('error', () => {})
    const up = await probe.connect().then(() => probe.ping(), () => undefined)
    probe.disconnect()
    if (up === 'PONG') return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  assert.fail(`redis-server on ${port} did not start`)
}

async function sentToken(identity: UpstreamIdentity, token: string): Promise<string | undefined> {
  return (await identity.identify(caller(token))).add['authorization']?.replace(/^Bearer /, '')
}

describe('exchanged tokens shared through Redis', () => {
  const prefix = `mcp-exchange-test-${randomUUID()}:`
  const raw = new Redis({ host: '127.0.0.1', port: 6379, keyPrefix: prefix })
  const opened: UpstreamIdentity[] = []
  const open = (key: KeyObject, client: TokenEndpointClient, redis: RedisConfig | undefined = redisAt(6379, prefix)) => {
    const identity = createExchangeIdentity(settings(redis, key), { client })
    opened.push(identity)
    return identity
  }
  after(async () => {
    for (const identity of opened) await identity.close?.()
    const keys = await raw.keys(`${prefix}*`)
    if (keys.length > 0) await raw.del(...keys.map((key) => key.slice(prefix.length)))
    raw.disconnect()
  })

  test("two gateways on one Redis make ONE exchange for one user's token", async () => {
    const key = newKey()
    const endpoint = countingEndpoint()
    const first = open(key, endpoint)
    const second = open(key, endpoint)
    const token = `client-token-${randomUUID()}`
    const exchanged = await sentToken(first, token)
    assert.equal(await sentToken(second, token), exchanged)
    assert.equal(endpoint.calls.length, 1)
  })

  test('Redis holds neither token: the key is the cache hash, the value sealed; its TTL is the entry lifetime', async () => {
    const key = newKey()
    const identity = open(key, countingEndpoint())
    const token = `client-token-${randomUUID()}`
    const exchanged = (await sentToken(identity, token)) as string
    const redisKey = `exchange:${ExchangeCache.key(token, AUDIENCE, 'backend:read')}`
    const stored = await raw.get(redisKey)
    assert.ok(stored !== null, 'the entry is in Redis under the cache hash')
    for (const secret of [token, exchanged, Buffer.from(exchanged).toString('base64'), Buffer.from(exchanged).toString('base64url')]) {
      assert.ok(!stored.includes(secret))
      assert.ok(!redisKey.includes(secret))
    }
    const ttl = await raw.pttl(redisKey)
    // expires_in 300 s minus the 60 s margin.
    assert.ok(ttl > 230_000 && ttl <= 240_000, `ttl ${ttl}`)
  })

  test('a value sealed under another key is a miss: a fresh exchange', async () => {
    const endpoint = countingEndpoint()
    const token = `client-token-${randomUUID()}`
    const exchanged = await sentToken(open(newKey(), endpoint), token)
    assert.notEqual(await sentToken(open(newKey(), endpoint), token), exchanged)
    assert.equal(endpoint.calls.length, 2)
  })

  test('Redis down: a fresh exchange, never a failure', async () => {
    const port = await reservePort()
    const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
    const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()))
    const key = newKey()
    const endpoint = countingEndpoint()
    try {
      await waitForRedis(port)
      const first = open(key, endpoint, redisAt(port, prefix))
      await sentToken(first, `client-token-${randomUUID()}`)
      assert.equal(endpoint.calls.length, 1)
    } finally {
      server.kill('SIGTERM')
      await exited
    }
    const second = open(key, endpoint, redisAt(port, prefix))
    const token = `client-token-${randomUUID()}`
    assert.match((await sentToken(second, token)) ?? '', /^exchanged-/)
    assert.equal(endpoint.calls.length, 2)
    // The token is still cached in this process.
    await sentToken(second, token)
    assert.equal(endpoint.calls.length, 2)
  })
})

describe('sharedCache configuration', () => {
  const BASE = {
    MCP_CANONICAL_URI: 'https://mcp.example.com/mcp',
    MCP_AUTHORIZATION_SERVER: 'https://as.example.com',
    MCP_JWKS_URI: 'https://as.example.com/jwks',
    MCP_BACKEND: 'http://127.0.0.1:3000',
    MCP_UPSTREAM_IDENTITY: 'exchange',
    MCP_EXCHANGE_CLIENT_ID: 'gw',
    MCP_UPSTREAM_AUDIENCE: AUDIENCE,
  }
  let dir: string
  const write = async (name: string, text: string) => {
    const path = join(dir, name)
    await writeFile(path, text)
    await chmod(path, 0o600)
    return path
  }
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'exchange-cache-config-'))
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })
  const problemsOf = async (env: Record<string, string>) => {
    try {
      await loadConfig({ env: { ...BASE, ...env } })
    } catch (error) {
      assert.ok(error instanceof ConfigError, String(error))
      return error.problems
    }
    return []
  }

  test('a 32-byte key in base64 or hex, with Redis configured', async () => {
    const bytes = randomBytes(32)
    const env = { ...BASE, MCP_EXCHANGE_CLIENT_SECRET_FILE: await write('secret', 's'), MCP_REDIS_URL: 'redis://127.0.0.1:6379' }
    for (const text of [`${bytes.toString('base64')}\n`, bytes.toString('hex')]) {
      const config = await loadConfig({ env: { ...env, MCP_EXCHANGE_CACHE_KEY_FILE: await write('key', text) } })
      assert.ok(config.upstreamIdentity.mode === 'exchange')
      assert.deepEqual(config.upstreamIdentity.sharedCache?.key.export(), bytes)
      assert.equal(config.upstreamIdentity.sharedCache?.redis.url, 'redis://127.0.0.1:6379')
    }
  })

  test('without Redis, or with a key that is not 32 bytes, start-up fails naming the setting', async () => {
    const secret = await write('secret', 's')
    const key = await write('key', randomBytes(32).toString('base64'))
    const withoutRedis = await problemsOf({ MCP_EXCHANGE_CLIENT_SECRET_FILE: secret, MCP_EXCHANGE_CACHE_KEY_FILE: key })
    assert.ok(withoutRedis.some((p) => p.startsWith('MCP_EXCHANGE_CACHE_KEY_FILE') && p.includes('no Redis is set')), withoutRedis.join('\n'))
    const shortText = randomBytes(16).toString('base64')
    const short = await write('short', shortText)
    const wrongSize = await problemsOf({ MCP_EXCHANGE_CLIENT_SECRET_FILE: secret, MCP_EXCHANGE_CACHE_KEY_FILE: short, MCP_REDIS_URL: 'redis://127.0.0.1:6379' })
    assert.ok(wrongSize.some((p) => p.includes('is not a 32-byte key')), wrongSize.join('\n'))
    assert.ok(wrongSize.every((p) => !p.includes(shortText)), 'the key itself is never in a message')
  })
})
