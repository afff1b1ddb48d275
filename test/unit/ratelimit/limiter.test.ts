import assert from 'node:assert/strict'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { after, before, describe, test } from 'node:test'
import { loadConfig } from '../../../src/config/load.js'
import { GatewayError, InvalidToken } from '../../../src/errors.js'
import type { RateLimitEvent } from '../../../src/observability/events.js'
import type { ProtocolVersion } from '../../../src/jsonrpc/protocol-version.js'
import { RateLimitExceeded, RateLimitUnavailable } from '../../../src/ratelimit/errors.js'
import { createRateLimiter, type RateLimiter } from '../../../src/ratelimit/limiter.js'
import { createMemoryStore } from '../../../src/ratelimit/memory-store.js'
import { StoreUnavailable, type RateLimitStore } from '../../../src/ratelimit/store.js'
import type { McpCall } from '../../../src/jsonrpc/mcp-call.js'
import type { Principal } from '../../../src/token/principal.js'

const BASE = {
  MCP_CANONICAL_URI: 'http://127.0.0.1:8080/mcp',
  MCP_AUTHORIZATION_SERVER: 'http://127.0.0.1:9000',
  MCP_JWKS_URI: 'http://127.0.0.1:9000/jwks',
  MCP_BACKEND: '127.0.0.1:3000',
  MCP_RATELIMIT_ENABLED: 'on',
}

function principal(subject: string | undefined, overrides: Partial<Principal> = {}): Principal {
  return {
    issuer: 'http://127.0.0.1:9000',
    subject,
    clientId: 'client-a',
    scopes: new Set(),
    expiresAt: 2_000_000_000,
    claims: {},
    ...overrides,
  }
}

function toolCalls(...tools: string[]): McpCall {
  const messages = tools.map((target, i) => ({ kind: 'request' as const, method: 'tools/call', id: i + 1, target }))
  return {
    request: { version: '2025-03-26' as ProtocolVersion, batch: tools.length > 1, messages, body: null },
    method: 'tools/call',
    target: tools[0],
    protocolVersion: '2025-03-26',
  }
}

/** A limiter on a memory store whose clock the test moves. */
async function limiterAt(env: Record<string, string>, clock: { t: number }): Promise<RateLimiter> {
  const config = await loadConfig({ env: { ...BASE, ...env } })
  const store = createMemoryStore({ algorithm: config.rateLimit.algorithm, now: () => clock.t })
  const limiter = createRateLimiter(config, { store })
  assert.ok(limiter)
  return limiter
}

async function refusal(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise
  } catch (error) {
    assert.ok(error instanceof GatewayError, `expected a GatewayError, got ${String(error)}`)
    return error
  }
  assert.fail('expected a refusal')
}

const seen: RateLimitEvent[] = []
const onEvent = (message: unknown) => seen.push(message as RateLimitEvent)
before(() => subscribe('mcp-gateway:rate-limit', onEvent))
after(() => unsubscribe('mcp-gateway:rate-limit', onEvent))

describe('createRateLimiter', () => {
  test('off: no hook at all', async () => {
    const config = await loadConfig({ env: { ...BASE, MCP_RATELIMIT_ENABLED: 'off' } })
    assert.equal(createRateLimiter(config), undefined)
  })

  test('the N+1th request in a window is a 429 with Retry-After and the limit headers; the window ends it', async () => {
    const clock = { t: 1_000_000 }
    const admit = await limiterAt({ MCP_RATELIMIT_RATE: '3r/m' }, clock)
    const alice = principal('alice')
    for (let i = 0; i < 3; i++) await admit(alice, undefined)
    clock.t += 20_000
    const error = await refusal(admit(alice, undefined))
    assert.ok(error instanceof RateLimitExceeded)
    assert.deepEqual([error.status, error.reason, error.retryAfter], [429, 'rate_limited', 40])
    assert.deepEqual(error.headers, {
      'x-ratelimit-limit': '3',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-reset': '40',
      'ratelimit-policy': '"default";q=3;w=60',
      ratelimit: '"default";r=0;t=40',
      'retry-after': '40',
    })
    assert.equal(error.bearerError, undefined, 'a 429 carries no Bearer challenge')
    clock.t += 40_000
    assert.deepEqual(await admit.check(alice, undefined), {
      'x-ratelimit-limit': '3',
      'x-ratelimit-remaining': '2',
      'x-ratelimit-reset': '60',
      'ratelimit-policy': '"default";q=3;w=60',
      ratelimit: '"default";r=2;t=60',
    })
  })

  test('counted per subject within its issuer', async () => {
    const clock = { t: 0 }
    const admit = await limiterAt({ MCP_RATELIMIT_RATE: '1r/m' }, clock)
    await admit(principal('alice'), undefined)
    await admit(principal('bob'), undefined)
    await admit(principal('alice', { issuer: 'https://other.example' }), undefined)
    assert.equal((await refusal(admit(principal('alice'), undefined))).status, 429)
  })

  test('a token without sub is a 401 invalid_token by default, never unlimited', async () => {
    const admit = await limiterAt({ MCP_RATELIMIT_RATE: '1r/m' }, { t: 0 })
    for (const subject of [undefined, '']) {
      const error = await refusal(admit(principal(subject), undefined))
      assert.ok(error instanceof InvalidToken)
      assert.deepEqual([error.status, error.bearerError, error.reason], [401, 'invalid_token', 'missing_claim'])
      assert.doesNotMatch(error.description, /=/)
    }
  })

  test('MCP_RATELIMIT_MISSING_SUBJECT=client_id counts such tokens under their client', async () => {
    const admit = await limiterAt({ MCP_RATELIMIT_RATE: '1r/m', MCP_RATELIMIT_MISSING_SUBJECT: 'client_id' }, { t: 0 })
    await admit(principal(undefined, { clientId: 'svc' }), undefined)
    assert.equal((await refusal(admit(principal(undefined, { clientId: 'svc' }), undefined))).status, 429)
    // A user whose sub happens to equal that client id is someone else.
    await admit(principal('svc'), undefined)
    assert.equal((await refusal(admit(principal(undefined, { clientId: undefined }), undefined))).status, 401)
  })

  test('per-tool limits count each call in a batch, and a refused request consumes nothing', async () => {
    const clock = { t: 0 }
    const config = await loadConfig({ env: { ...BASE, MCP_RATELIMIT_RATE: '10r/m' } })
    const tools = new Map([['delete_repo', { requests: 2, periodMs: 60_000, burst: 0 }]])
    const store = createMemoryStore({ algorithm: 'fixed_window', now: () => clock.t })
    const admit = createRateLimiter({ ...config, rateLimit: { ...config.rateLimit, tools } }, { store })!
    const alice = principal('alice')

    const batch = await refusal(admit(alice, toolCalls('delete_repo', 'echo', 'delete_repo', 'delete_repo')))
    assert.ok(batch instanceof RateLimitExceeded)
    assert.equal(batch.policy, 'tool:delete_repo')
    assert.match(batch.headers?.['ratelimit-policy'] ?? '', /^"default";q=10;w=60, "tool:delete_repo";q=2;w=60$/)

    const headers = await admit.check(alice, toolCalls('delete_repo', 'delete_repo'))
    assert.equal(headers['x-ratelimit-remaining'], '0', 'the binding limit is the tool one')
    assert.equal(headers.ratelimit, '"default";r=9;t=60, "tool:delete_repo";r=0;t=60', 'the refused batch cost nothing')
    assert.equal((await refusal(admit(alice, toolCalls('delete_repo')))).status, 429)
    // Other tools and other methods still pass on the principal's budget.
    await admit(alice, toolCalls('echo'))
    await admit(alice, undefined)
  })

  test('store down, onError=deny (the default): 503 with Retry-After, never a 200', async () => {
    const config = await loadConfig({ env: { ...BASE, MCP_RATELIMIT_RATE: '1r/m' } })
    const admit = createRateLimiter(config, { store: failingStore(new StoreUnavailable('down')) })!
    seen.length = 0
    const error = await refusal(admit(principal('alice'), undefined))
    assert.ok(error instanceof RateLimitUnavailable)
    assert.deepEqual([error.status, error.reason, error.retryAfter, error.bearerError], [503, 'rate_limit_unavailable', 5, undefined])
    assert.deepEqual(seen.map((e) => e.outcome), ['store_failed_closed'])
  })

  test('store down, onError=allow: the request passes; a Redis error reply still denies', async () => {
    const config = await loadConfig({ env: { ...BASE, MCP_RATELIMIT_RATE: '1r/m', MCP_RATELIMIT_ON_ERROR: 'allow' } })
    seen.length = 0
    const open = createRateLimiter(config, { store: failingStore(new StoreUnavailable('down')) })!
    assert.deepEqual(await open.check(principal('alice'), undefined), {})
    const replyError = Object.assign(new Error('NOAUTH Authentication required.'), { name: 'ReplyError' })
    const broken = createRateLimiter(config, { store: failingStore(replyError) })!
    assert.equal((await refusal(broken(principal('alice'), undefined))).status, 503)
    assert.deepEqual(seen.map((e) => e.outcome), ['store_failed_open', 'store_failed_closed'])
  })

  test('publishes one event per 429, without the subject', async () => {
    const admit = await limiterAt({ MCP_RATELIMIT_RATE: '1r/m', MCP_RATELIMIT_ALGO: 'gcra' }, { t: 0 })
    seen.length = 0
    await admit(principal('alice@example.com'), undefined)
    await refusal(admit(principal('alice@example.com'), undefined))
    assert.deepEqual(seen, [
      { outcome: 'limited', policy: 'default', issuer: 'http://127.0.0.1:9000', retryAfter: 60, algorithm: 'gcra', store: 'memory' },
    ])
    assert.doesNotMatch(JSON.stringify(seen), /alice/)
  })
})

function failingStore(error: Error): RateLimitStore {
  return {
    kind: 'redis',
    algorithm: 'fixed_window',
    consume: () => Promise.reject(error),
    close: async () => {},
  }
}

describe('memory store', () => {
  test('keys expire when their state is fresh again, and the least recently used goes first past maxKeys', async () => {
    const clock = { t: 0 }
    const store = createMemoryStore({ algorithm: 'fixed_window', now: () => clock.t, maxKeys: 2 })
    const limit = { requests: 1, periodMs: 1000, burst: 0 }
    const take = async (key: string) => (await store.consume([{ key, limit, cost: 1 }]))[0]!.allowed
    assert.deepEqual([await take('a'), await take('b'), await take('a'), await take('b')], [true, true, false, false])
    await take('c') // evicts a (least recently written), keeps b
    assert.deepEqual([await take('b'), await take('a')], [false, true])
    clock.t = 1000
    assert.equal(await take('b'), true, 'the window ended')
  })
})
