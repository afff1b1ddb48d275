import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { stringify } from 'yaml'
import { spawnServe, type CliProcess } from '../support/cli-process.js'
import { INITIALIZE_BODY, mcpHeaders, send, type RawResponse } from '../support/gateway.js'
import { createOpsFixture, reservePort, type OpsFixture } from '../support/ops-fixture.js'

/**
 * Several gateway processes on one Redis behave as one (docs/security.md, docs/rate-limiting.md):
 * three replicas (the real CLI, each its own process) on the real Redis at 127.0.0.1:6379 under a
 * key prefix unique to this run (deleted at the end, never a FLUSH); then two replicas on a
 * redis-server this test starts on its own port, stops and starts again.
 */

const ADMIN_TOKEN = 'replicas-admin-secret-0123456789abcdef'

interface Replica {
  readonly name: string
  readonly process: CliProcess
  readonly url: string
  readonly admin: string
}

let fx: OpsFixture
let adminTokenFile: string
const started: Replica[] = []

before(async () => {
  fx = await createOpsFixture()
  adminTokenFile = join(fx.dir, 'admin-token')
  await writeFile(adminTokenFile, ADMIN_TOKEN, { mode: 0o600 })
})
after(async () => {
  await Promise.allSettled(started.map((r) => r.process.kill()))
  await fx?.close()
})

/** Starts one replica (all share the canonical URI, as behind one load balancer) and waits until `/readyz` says so. */
async function startReplica(name: string, redisPort: number, prefix: string, port?: number, extra: Record<string, unknown> = {}): Promise<Replica> {
  const listenPort = port ?? (await reservePort())
  const adminPort = await reservePort()
  const file = join(fx.dir, `${name}.yaml`)
  const settings = fx.settings({
    listen: { host: '127.0.0.1', port: listenPort },
    redis: { url: `redis://127.0.0.1:${redisPort}`, keyPrefix: `${prefix}:` },
    admin: { port: adminPort, tokenFile: adminTokenFile },
    audit: { file: 'off' },
    authFailures: { limit: '3/1m', block: '1m' },
    trustedProxies: ['127.0.0.1'],
    rateLimit: { enabled: true, rate: '5r/m', redis: `127.0.0.1:${redisPort}`, prefix: `${prefix}-rl`, redisTimeout: '300ms' },
    ...extra,
  })
  await writeFile(file, stringify(settings))
  const process = spawnServe(['--config', file], {}, name)
  const replica = { name, process, url: `http://127.0.0.1:${listenPort}/mcp`, admin: `http://127.0.0.1:${adminPort}` }
  started.push(replica)
  await process.waitForLine((l) => l.msg === 'listening', `${name} listening`)
  // With workers, a worker's 'listening' may come before the primary's admin listener is up.
  await until(async () => (await send(`${replica.admin}/readyz`).catch(() => ({ status: 0 }))).status === 200, `${name} ready`, 10_000)
  return replica
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs: number): Promise<number> {
  const start = Date.now()
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return Date.now() - start
}

function post(replica: Replica, token: string | undefined, from = '192.0.2.1'): Promise<RawResponse> {
  return send(replica.url, {
    method: 'POST',
    headers: mcpHeaders({ 'x-forwarded-for': from, 'mcp-protocol-version': '2025-06-18', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) }),
    body: INITIALIZE_BODY,
  })
}

function revoke(replica: Replica, body: Record<string, unknown>): Promise<RawResponse> {
  return send(`${replica.admin}/admin/revocations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
}

/** Each subject has its own rate-limit budget: a fresh one per check keeps 5r/m out of the way. */
const freshToken = (jti: string = randomUUID()) => fx.token('mcp:read', { jti, sub: `user-${randomUUID()}` })

describe('three replicas on the shared Redis', () => {
  const prefix = `mcp-replicas-test-${randomUUID()}`
  let replicas: Replica[]
  let redis: Redis

  before(async () => {
    redis = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: 1 })
    replicas = await Promise.all(['replica-1', 'replica-2', 'replica-3'].map((name, i) => startReplica(name, 6379, prefix, i === 0 ? fx.port : undefined)))
  })
  after(async () => {
    await Promise.allSettled(replicas.map((r) => r.process.kill()))
    const keys = [...(await redis.keys(`${prefix}:*`)), ...(await redis.keys(`${prefix}-rl:*`))]
    if (keys.length > 0) await redis.del(...keys)
    assert.deepEqual(await redis.keys(`${prefix}*`), [])
    await redis.quit()
  })

  test('a revocation posted to one replica is enforced by all three within 1 s', async () => {
    const jti = `revoked-${randomUUID()}`
    const token = await freshToken(jti)
    for (const r of replicas) assert.equal((await post(r, token)).status, 200, r.name)
    const posted = await revoke(replicas[0] as Replica, { jti })
    assert.equal(posted.status, 201, posted.body)
    const elapsed = await Promise.all(
      replicas.map((r) => until(async () => (await post(r, token)).status === 401, `${r.name} refusing the revoked token`, 1000)),
    )
    assert.ok(elapsed.every((ms) => ms <= 1000), String(elapsed))
    const refused = await post(replicas[2] as Replica, token)
    assert.equal(JSON.parse(refused.body).error_description, 'The token has been revoked')
    // Stored as hashes: neither the jti nor the token is in Redis.
    const members = await redis.zrange(`${prefix}:revocations`, 0, -1)
    assert.ok(members.length >= 1 && members.every((m) => !m.includes(jti) && !token.includes(m.slice(6))), String(members))
  })

  test('a replica started after the revocation enforces it from its first request', async () => {
    const jti = `revoked-before-start-${randomUUID()}`
    const token = await freshToken(jti)
    assert.equal((await revoke(replicas[1] as Replica, { jti })).status, 201)
    const late = await startReplica('replica-late', 6379, prefix)
    const first = await post(late, token)
    assert.equal(first.status, 401)
    assert.equal((await post(late, await freshToken())).status, 200)
    await late.process.kill()
  })

  test('the rate limit is shared: 5r/m across the three', async () => {
    const token = await freshToken()
    const statuses: number[] = []
    for (let i = 0; i < 7; i++) statuses.push((await post(replicas[i % 3] as Replica, token)).status)
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429])
  })

  test('the lockout is shared: three refused tokens on three replicas block the address on all of them', async () => {
    const from = '198.51.100.23'
    const good = await freshToken()
    const bad = `${good.slice(0, -6)}AAAAAA`
    for (const r of replicas) assert.equal((await post(r, bad, from)).status, 401, r.name)
    await Promise.all(replicas.map((r) => until(async () => (await post(r, good, from)).status === 429, `${r.name} blocking ${from}`, 1000)))
    const blocked = await post(replicas[0] as Replica, good, from)
    assert.ok(Number(blocked.headers['retry-after']) > 50)
    // Another address is not affected.
    assert.equal((await post(replicas[1] as Replica, good, '198.51.100.24')).status, 200)
  })
})

describe('worker processes behind one primary', () => {
  const prefix = `mcp-workers-revocation-test-${randomUUID()}`
  let redis: Redis
  before(() => {
    redis = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: 1 })
  })
  after(async () => {
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
    await redis.quit()
  })

  test("a revocation posted to the primary's admin listener reaches every worker through Redis", async () => {
    const replica = await startReplica('workers', 6379, prefix, undefined, { workers: 2 })
    const jti = `workers-${randomUUID()}`
    const token = await freshToken(jti)
    assert.equal((await post(replica, token)).status, 200)
    assert.equal((await revoke(replica, { jti })).status, 201)
    // New connections go to the workers in turn: ten in a row refused means both refuse it.
    await until(async () => (await post(replica, token)).status === 401, 'the first refusal', 1000)
    const statuses: number[] = []
    for (let i = 0; i < 10; i++) statuses.push((await post(replica, token)).status)
    assert.deepEqual(new Set(statuses), new Set([401]))
    await replica.process.kill()
  })
})

/** A redis-server of this test's own on `port`, without persistence. */
function startRedisServer(port: number): { child: ChildProcess; stop(): Promise<void> } {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return {
    child,
    async stop() {
      child.kill('SIGTERM')
      await exited
    },
  }
}

async function waitForRedis(port: number): Promise<void> {
  const probe = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
  probe.on('error', () => {})
  try {
    await until(async () => {
      try {
        if (probe.status !== 'ready') await probe.connect()
        return (await probe.ping()) === 'PONG'
      } catch {
        probe.disconnect()
        return false
      }
    }, `redis-server on ${port}`, 10_000)
  } finally {
    probe.disconnect()
  }
}

describe('Redis stopped and started again under two replicas', () => {
  const prefix = `mcp-outage-test-${randomUUID()}`
  let port: number
  let server: ReturnType<typeof startRedisServer>
  let a: Replica
  let b: Replica

  before(async () => {
    port = await reservePort()
    server = startRedisServer(port)
    await waitForRedis(port)
    ;[a, b] = await Promise.all([startReplica('outage-a', port, prefix), startReplica('outage-b', port, prefix)])
  })
  after(async () => {
    await Promise.allSettled([a?.process.kill(), b?.process.kill()])
    await server?.stop()
  })

  test('during the outage: rate limiting fails closed (503), known revocations still hold; afterwards everything recovers without a restart', async () => {
    const before = await freshToken(`before-${randomUUID()}`)
    assert.equal((await revoke(a, { jti: JSON.parse(Buffer.from(before.split('.')[1] as string, 'base64url').toString()).jti })).status, 201)
    await until(async () => (await post(b, before)).status === 401, 'b refusing the revoked token', 1000)

    await server.stop()
    const fresh = await freshToken()
    // MCP_RATELIMIT_ON_ERROR=deny (the default): no verdict, no pass.
    await until(async () => (await post(a, fresh)).status === 503, 'a failing closed', 5000)
    const down = await post(b, fresh)
    assert.equal(down.status, 503)
    assert.equal(JSON.parse(down.body).error, 'rate_limit_unavailable')
    assert.ok(Number(down.headers['retry-after']) >= 1)
    // The revocation held before the outage is still enforced from each replica's copy.
    for (const r of [a, b]) assert.equal((await post(r, before)).status, 401, r.name)
    // A revocation posted now holds on that replica only, and says so.
    const duringJti = `during-${randomUUID()}`
    const during = await freshToken(duringJti)
    const posted = await revoke(a, { jti: duringJti })
    assert.equal(posted.status, 503, posted.body)
    assert.equal((await post(a, during)).status, 401)

    // Redis comes back empty (no persistence): the replicas reconnect by themselves.
    server = startRedisServer(port)
    await waitForRedis(port)
    for (const r of [a, b]) await until(async () => (await post(r, await freshToken())).status === 200, `${r.name} serving again`, 15_000)
    // What the replicas held is written back: b learns the revocation only a held, and both keep the older one.
    await until(async () => (await post(b, during)).status === 401, 'b refusing the revocation posted during the outage', 5000)
    for (const r of [a, b]) assert.equal((await post(r, before)).status, 401, r.name)
    // And the push works again: a revocation posted to b reaches a within 1 s.
    const afterJti = `after-${randomUUID()}`
    const later = await freshToken(afterJti)
    assert.equal((await post(a, later)).status, 200)
    assert.equal((await revoke(b, { jti: afterJti })).status, 201)
    await until(async () => (await post(a, later)).status === 401, 'a refusing the revocation posted after recovery', 1000)
  })
})
