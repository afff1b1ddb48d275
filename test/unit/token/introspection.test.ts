import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../../src/config/load.js'
import type { ResolvedAuthorizationServer } from '../../../src/config/normalize.js'
import { InvalidToken } from '../../../src/errors.js'
import type { StateStore } from '../../../src/state/store.js'
import { createIntrospectionVerifier } from '../../../src/token/introspection.js'
import type { TokenVerifier } from '../../../src/token/principal.js'
import { closeServer, listenOnLoopback } from '../../support/listen.js'

/**
 * The introspection verifier's caches, on a fake clock: the checked principal kept per process in
 * front of the store (which may be Redis, shared by several gateways), how long it lives, its
 * bound, and what is never kept there. The endpoint is a local RFC 7662 stand-in that counts calls.
 */

const RESOURCE = 'https://mcp.example.com/mcp'
const T0 = 1_800_000_000_000

/** Answers per token, per issuer; every call is counted. */
interface FakeEndpoint {
  readonly url: string
  readonly answers: Map<string, Record<string, unknown>>
  calls: number
}

let dir: string
let secretFile: string
const servers: Server[] = []

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'mcp-gw-introspection-unit-'))
  secretFile = join(dir, 'secret')
  writeFileSync(secretFile, 'gateway-secret\n')
  chmodSync(secretFile, 0o600)
})
after(async () => {
  await Promise.all(servers.map(closeServer))
  rmSync(dir, { recursive: true, force: true })
})

async function fakeEndpoint(): Promise<FakeEndpoint> {
  const endpoint = { url: '', answers: new Map<string, Record<string, unknown>>(), calls: 0 }
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => (body += chunk.toString()))
    req.on('end', () => {
      endpoint.calls++
      const token = new URLSearchParams(body).get('token') ?? ''
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(endpoint.answers.get(token) ?? { active: false }))
    })
  })
  servers.push(server)
  endpoint.url = `http://127.0.0.1:${await listenOnLoopback(server)}/introspect`
  return endpoint
}

/** A store that counts reads, unbounded, on the same fake clock (a stand-in for Redis). */
function countingStore(clock: { now: number }): StateStore & { gets: number; values: Map<string, string> } {
  const values = new Map<string, string>()
  const ends = new Map<string, number>()
  return {
    gets: 0,
    values,
    async get(key) {
      this.gets++
      const end = ends.get(key)
      return end !== undefined && end > clock.now ? values.get(key) : undefined
    },
    async set(key, value, ttlMs) {
      values.set(key, value)
      ends.set(key, clock.now + ttlMs)
    },
    async close() {},
  }
}

async function issuer(
  endpoint: FakeEndpoint,
  name = 'https://as.example.com',
  introspection: { cacheSize?: number; cacheMaxTtl?: number } = {},
): Promise<ResolvedAuthorizationServer> {
  const config = await loadConfig({
    env: {
      MCP_CANONICAL_URI: RESOURCE,
      MCP_AUTHORIZATION_SERVER: name,
      MCP_BACKEND: '127.0.0.1:3000',
      MCP_LISTEN_HOST: '127.0.0.1',
      MCP_AUTH_MODE: 'introspect',
      MCP_INTROSPECT_ENDPOINT: endpoint.url,
      MCP_CLIENT_ID: 'gateway',
      MCP_CLIENT_SECRET_FILE: secretFile,
    },
  })
  const as = config.authorizationServers[0] as ResolvedAuthorizationServer
  assert.ok(as.introspection !== undefined)
  return { ...as, introspection: { ...as.introspection, ...introspection } }
}

function active(claims: Record<string, unknown> = {}): Record<string, unknown> {
  return { active: true, aud: RESOURCE, scope: 'mcp', sub: 'u1', exp: T0 / 1000 + 3600, ...claims }
}

async function refused(verifier: TokenVerifier, token: string, reason: string): Promise<void> {
  await assert.rejects(verifier.verify(token), (error: unknown) => error instanceof InvalidToken && error.reason === reason)
}

/**
 * One issuer's endpoint, a fake clock and a counting store on it; `verifier()` makes gateways of
 * that issuer sharing the store (each a new process's view), all closed by `close`.
 */
async function sharedStoreSetup(introspection: { cacheSize?: number } = {}) {
  const endpoint = await fakeEndpoint()
  const clock = { now: T0 }
  const store = countingStore(clock)
  const as = await issuer(endpoint, undefined, introspection)
  const made: TokenVerifier[] = []
  return {
    endpoint,
    clock,
    store,
    verifier(): TokenVerifier {
      const verifier = createIntrospectionVerifier(as, { canonicalUri: RESOURCE, store, now: () => clock.now })
      made.push(verifier)
      return verifier
    },
    async close(): Promise<void> {
      for (const verifier of made) await verifier.close?.()
    },
  }
}

describe('introspection verifier: principals kept in process', () => {
  test('a warm token costs neither a store read nor a call, and gets the same principal', async () => {
    const { endpoint, clock, store, verifier: make, close } = await sharedStoreSetup()
    endpoint.answers.set('tok-a', active())
    const verifier = make()
    const first = await verifier.verify('tok-a')
    assert.equal(endpoint.calls, 1)
    assert.equal(store.gets, 1)
    clock.now += 30_000
    assert.equal(await verifier.verify('tok-a'), first)
    assert.equal(endpoint.calls, 1)
    assert.equal(store.gets, 1, 'served from the process, not the store')
    assert.deepEqual([...first.scopes], ['mcp'])
    await close()
  })

  test('verifyCached: a held principal at once, the same one verify gives; nothing before the first verify nor past the entry', async () => {
    const { endpoint, clock, store, verifier: make, close } = await sharedStoreSetup()
    endpoint.answers.set('tok-a', active())
    const verifier = make()
    assert.equal(verifier.verifyCached?.('tok-a'), undefined, 'not asked yet: only verify can tell')
    const first = await verifier.verify('tok-a')
    clock.now += 30_000
    assert.equal(verifier.verifyCached?.('tok-a'), first)
    assert.equal(verifier.verifyCached?.('tok-b'), undefined)
    assert.equal(endpoint.calls, 1)
    assert.equal(store.gets, 1, 'no store read for a held answer')
    clock.now = T0 + 60_000
    assert.equal(verifier.verifyCached?.('tok-a'), undefined, 'ends with the entry, at the max TTL')
    await close()
  })

  test('an entry ends at the max TTL after the answer, and at exp when that comes first', async () => {
    const { endpoint, clock, verifier: make, close } = await sharedStoreSetup()
    endpoint.answers.set('long', active())
    endpoint.answers.set('short', active({ exp: T0 / 1000 + 10 }))
    const verifier = make()
    await verifier.verify('long')
    await verifier.verify('short')
    assert.equal(endpoint.calls, 2)
    clock.now = T0 + 9_999
    await verifier.verify('short')
    assert.equal(endpoint.calls, 2)
    clock.now = T0 + 10_000
    endpoint.answers.set('short', { active: false })
    await refused(verifier, 'short', 'inactive')
    assert.equal(endpoint.calls, 3, 'asked again at exp')
    clock.now = T0 + 59_999
    await verifier.verify('long')
    assert.equal(endpoint.calls, 3)
    clock.now = T0 + 60_000
    endpoint.answers.set('long', { active: false })
    await refused(verifier, 'long', 'inactive')
    assert.equal(endpoint.calls, 4, 'asked again at the max TTL (a revocation is seen)')
    await close()
  })

  test('bounded by cacheSize: the least recently used principal goes back to the store', async () => {
    const { endpoint, store, verifier: make, close } = await sharedStoreSetup({ cacheSize: 2 })
    for (const token of ['t1', 't2', 't3']) endpoint.answers.set(token, active({ sub: token }))
    const verifier = make()
    for (const token of ['t1', 't2', 't3']) await verifier.verify(token)
    assert.equal(store.gets, 3)
    await verifier.verify('t3')
    await verifier.verify('t2')
    assert.equal(store.gets, 3, 't2 and t3 are held')
    assert.equal((await verifier.verify('t1')).subject, 't1')
    assert.equal(store.gets, 4, 't1 was dropped and read from the store again')
    assert.equal(endpoint.calls, 3)
    await close()
  })

  test('inactive and refused answers are never kept in process: judged on every use, inactive ones briefly', async () => {
    const { endpoint, clock, store, verifier: make, close } = await sharedStoreSetup()
    endpoint.answers.set('other-aud', active({ aud: 'https://other.example.com/mcp' }))
    const verifier = make()
    await refused(verifier, 'unknown', 'inactive')
    await refused(verifier, 'other-aud', 'audience')
    assert.equal(endpoint.calls, 2)
    await refused(verifier, 'unknown', 'inactive')
    await refused(verifier, 'other-aud', 'audience')
    assert.equal(store.gets, 4, 'each refusal read the store again')
    assert.equal(endpoint.calls, 2)
    const stored = [...store.values.values()]
    assert.ok(stored.includes(JSON.stringify({ until: T0 + 5_000, answer: { active: false } })), 'inactive answers are stored bare')
    clock.now = T0 + 5_000
    endpoint.answers.set('unknown', active())
    await verifier.verify('unknown')
    assert.equal(endpoint.calls, 3, 'the inactive answer lived the inactive TTL only')
    await close()
  })

  test('two issuers sharing one store never see each other’s answers or principals', async () => {
    const a = await fakeEndpoint()
    const b = await fakeEndpoint()
    a.answers.set('shared-token', active())
    const clock = { now: T0 }
    const store = countingStore(clock)
    const options = { canonicalUri: RESOURCE, store, now: () => clock.now }
    const verifierA = createIntrospectionVerifier(await issuer(a, 'https://a.example.com'), options)
    const verifierB = createIntrospectionVerifier(await issuer(b, 'https://b.example.com'), options)
    assert.equal((await verifierA.verify('shared-token')).issuer, 'https://a.example.com')
    await refused(verifierB, 'shared-token', 'inactive')
    assert.equal(b.calls, 1, 'B asked its own endpoint')
    assert.equal((await verifierA.verify('shared-token')).issuer, 'https://a.example.com')
    await refused(verifierB, 'shared-token', 'inactive')
    assert.equal(store.values.size, 2)
    await verifierA.close?.()
    await verifierB.close?.()
  })

  test('a shared store (two gateways): the reader keeps the principal only until the writer’s entry ends', async () => {
    const { endpoint, clock, verifier, close } = await sharedStoreSetup()
    endpoint.answers.set('tok', active())
    const first = verifier()
    const second = verifier()
    await first.verify('tok')
    clock.now = T0 + 50_000
    await second.verify('tok')
    assert.equal(endpoint.calls, 1, 'the second gateway read the first one’s answer')
    clock.now = T0 + 59_999
    await second.verify('tok')
    assert.equal(endpoint.calls, 1)
    clock.now = T0 + 60_000
    endpoint.answers.set('tok', { active: false })
    await refused(second, 'tok', 'inactive')
    assert.equal(endpoint.calls, 2, 'not 50 s later than the answer’s own end')
    await close()
  })

  test('a stored end beyond the max TTL (another clock, a tampered value) is bounded again on read', async () => {
    const { endpoint, clock, store, verifier, close } = await sharedStoreSetup()
    endpoint.answers.set('tok', active())
    const writer = verifier()
    await writer.verify('tok')
    // The entry now claims to live a day.
    const [key] = [...store.values.keys()]
    assert.ok(key !== undefined)
    await store.set(key, JSON.stringify({ until: T0 + 86_400_000, answer: active() }), 86_400_000)
    const reader = verifier()
    await reader.verify('tok')
    assert.equal(store.gets, 2)
    clock.now = T0 + 59_999
    await reader.verify('tok')
    assert.equal(store.gets, 2)
    clock.now = T0 + 60_000
    await reader.verify('tok')
    assert.equal(store.gets, 3, 'the process entry ended at the max TTL; the store was read again')
    assert.equal(endpoint.calls, 1)
    await close()
  })
})
