import assert from 'node:assert/strict'
import { events, type NoticeEvent } from '../../src/observability/events.js'
import { randomUUID } from 'node:crypto'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import { reservePort } from '../../src/demo/reserve-port.js'
import { ALGORITHMS, type AlgorithmName } from '../../src/ratelimit/algorithms.js'
import { createMemoryStore } from '../../src/ratelimit/memory-store.js'
import type { Limit } from '../../src/ratelimit/rate.js'
import { createRedisStore, type RedisAddress } from '../../src/ratelimit/redis-store.js'
import { redisConfigOf } from '../../src/ratelimit/settings.js'
import { StoreUnavailable, type LimitCheck, type RateLimitStore } from '../../src/ratelimit/store.js'

/**
 * The Redis store against the real Redis at 127.0.0.1:6379: the Lua scripts give the same verdicts
 * as the pure algorithms (a fake clock is passed to the script instead of Redis TIME), consume all
 * or nothing, expire their keys, and fail fast as `StoreUnavailable` when Redis is away or mute.
 * Keys live under a prefix unique to this run and are deleted at the end.
 */

const REDIS: RedisAddress = { host: '127.0.0.1', port: 6379, db: 0, tls: false, username: undefined }
const PREFIX = `mcp-rl-test-${randomUUID()}`
let admin: Redis
const stores: RateLimitStore[] = []

function redisStore(algorithm: AlgorithmName, now?: () => number, address = REDIS, timeoutMs = 1000): RateLimitStore {
  const store = createRedisStore({ algorithm, redis: redisConfigOf(address, undefined, timeoutMs), ...(now === undefined ? {} : { now }) })
  stores.push(store)
  return store
}

/** Waits for the store's connection: requests before it are refused by design (no offline queue). */
async function ready(store: RateLimitStore): Promise<void> {
  const probe: LimitCheck = { key: `${PREFIX}:probe:${randomUUID()}`, limit: { requests: 1, periodMs: 1000, burst: 0 }, cost: 0 }
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      await store.consume([probe])
      return
    } catch (error) {
      if (!(error instanceof StoreUnavailable)) throw error
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  throw new Error('Redis store never became ready')
}

before(async () => {
  admin = new Redis({ host: REDIS.host, port: REDIS.port, lazyConnect: true, maxRetriesPerRequest: 1 })
  await admin.connect()
})

after(async () => {
  await Promise.allSettled(stores.map((s) => s.close()))
  let cursor = '0'
  let deleted = 0
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 1000)
    cursor = next
    if (keys.length > 0) deleted += await admin.del(...keys)
  } while (cursor !== '0')
  assert.equal((await admin.keys(`${PREFIX}*`)).length, 0, `left keys behind (deleted ${deleted})`)
  await admin.quit()
})

describe('Redis Lua scripts', () => {
  const limits: Limit[] = [
    { requests: 3, periodMs: 1000, burst: 0 },
    { requests: 7, periodMs: 60_000, burst: 2 },
    { requests: 100, periodMs: 60_000, burst: 5 },
  ]

  for (const algorithm of ALGORITHMS) {
    test(`${algorithm}: the same verdicts as the in-memory algorithm, request by request`, async () => {
      const clock = { t: 1_700_000_000_000 }
      const memory = createMemoryStore({ algorithm, now: () => clock.t })
      const redis = redisStore(algorithm, () => clock.t)
      await ready(redis)
      const run = randomUUID()
      let x = 42
      let denied = 0
      for (let i = 0; i < 300; i++) {
        x = (x * 1103515245 + 12345) % 2 ** 31
        clock.t += x % 400
        const picked = limits.filter((_, j) => (x >> j) % 2 === 0)
        const checks: LimitCheck[] = (picked.length === 0 ? limits.slice(0, 1) : picked).map((limit) => ({
          key: `${PREFIX}:{${run}}:${limit.requests}/${limit.periodMs}/${limit.burst}`,
          limit,
          cost: 1 + (x % 3 === 0 ? 1 : 0),
        }))
        const expected = await memory.consume(checks)
        const actual = await redis.consume(checks)
        assert.deepEqual(actual, expected, `request ${i} at t=${clock.t}`)
        if (expected.some((v) => !v.allowed)) denied++
      }
      assert.ok(denied > 10, `the sequence exceeded the limits (${denied} denials)`)
    })
  }

  test('all or nothing: a denying check leaves the others unconsumed', async () => {
    const clock = { t: 5_000_000 }
    const redis = redisStore('fixed_window', () => clock.t)
    await ready(redis)
    const loose: LimitCheck = { key: `${PREFIX}:{aon}:loose`, limit: { requests: 10, periodMs: 60_000, burst: 0 }, cost: 1 }
    const tight: LimitCheck = { key: `${PREFIX}:{aon}:tight`, limit: { requests: 1, periodMs: 60_000, burst: 0 }, cost: 2 }
    const verdicts = await redis.consume([loose, tight])
    assert.deepEqual(verdicts.map((v) => v.allowed), [true, false])
    assert.equal(await admin.exists(loose.key, tight.key), 0, 'nothing was written')
    const [after] = await redis.consume([loose])
    assert.equal(after!.remaining, 9)
  })

  test('keys expire when their state is fresh again (PEXPIRE), so Redis does not fill up', async () => {
    const redis = redisStore('gcra')
    await ready(redis)
    const check: LimitCheck = { key: `${PREFIX}:{ttl}:gcra`, limit: { requests: 10, periodMs: 60_000, burst: 4 }, cost: 1 }
    await redis.consume([check])
    const ttl = await admin.pttl(check.key)
    assert.ok(ttl > 0 && ttl <= 6000, `PTTL ${ttl} is one emission interval`)
  })

  test('Redis TIME is the clock when none is injected: two stores (two gateways) count together', async () => {
    const one = redisStore('token_bucket')
    const two = redisStore('token_bucket')
    await Promise.all([ready(one), ready(two)])
    const check: LimitCheck = { key: `${PREFIX}:{shared}:tb`, limit: { requests: 3, periodMs: 60_000, burst: 0 }, cost: 1 }
    const verdicts = [
      ...(await one.consume([check])),
      ...(await two.consume([check])),
      ...(await one.consume([check])),
      ...(await two.consume([check])),
    ]
    assert.deepEqual(verdicts.map((v) => v.allowed), [true, true, true, false])
    const wait = verdicts[3]!.retryAfterMs
    assert.ok(wait > 19_000 && wait <= 20_000, `one token per 20 s (wait ${wait} ms)`)
  })
})

describe('Redis away', () => {
  let mute: Server
  let mutePort: number
  const sockets = new Set<Socket>()

  before(async () => {
    // Accepts connections and never answers: a hung Redis, or a network that drops replies.
    mute = createServer((socket) => {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      socket.on('error', () => {})
    })
    await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve))
    mutePort = (mute.address() as { port: number }).port
  })

  after(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => mute.close(resolve))
  })

  const check: LimitCheck = { key: `${PREFIX}:{away}:x`, limit: { requests: 1, periodMs: 1000, burst: 0 }, cost: 1 }

  test('nothing listening: StoreUnavailable at once', async () => {
    const port = await reservePort()
    const store = redisStore('fixed_window', undefined, { ...REDIS, port }, 500)
    const started = Date.now()
    await assert.rejects(store.consume([check]), (error: unknown) => {
      assert.ok(error instanceof StoreUnavailable)
      assert.equal(error.message, `rate-limit Redis at 127.0.0.1:${port} unavailable`)
      return true
    })
    assert.ok(Date.now() - started < 500, 'no waiting on a dead Redis')
  })

  test('a connection that drops fails fast, and the store recovers when Redis is back', async () => {
    // A TCP relay in front of the real Redis, so the test can cut the network and restore it.
    const relayed = new Set<Socket>()
    const startRelay = async (port: number): Promise<Server> => {
      const relay = createServer((client) => {
        const upstream = createConnection(REDIS.port, REDIS.host)
        for (const s of [client, upstream]) {
          relayed.add(s)
          s.on('close', () => relayed.delete(s))
          s.on('error', () => {})
        }
        client.pipe(upstream).pipe(client)
      })
      await new Promise<void>((resolve) => relay.listen(port, '127.0.0.1', resolve))
      return relay
    }
    const port = await reservePort()
    let relay = await startRelay(port)
    const store = redisStore('fixed_window', undefined, { ...REDIS, port }, 500)
    await ready(store)
    const key = { ...check, key: `${PREFIX}:{drop}:x`, limit: { requests: 100, periodMs: 60_000, burst: 0 } }
    assert.equal((await store.consume([key]))[0]!.allowed, true)

    await new Promise((resolve) => {
      relay.close(resolve)
      for (const s of relayed) s.destroy()
    })
    const started = Date.now()
    await assert.rejects(store.consume([key]), StoreUnavailable)
    assert.ok(Date.now() - started < 600, 'fails within the timeout')

    relay = await startRelay(port)
    try {
      await ready(store)
      const [verdict] = await store.consume([key])
      assert.deepEqual([verdict!.allowed, verdict!.remaining], [true, 98], 'the count survived the outage (it lives in Redis)')
    } finally {
      await store.close()
      await new Promise((resolve) => {
        relay.close(resolve)
        for (const s of relayed) s.destroy()
      })
    }
  })

  test('a Redis that never answers: StoreUnavailable within the timeout', async () => {
    const store = redisStore('gcra', undefined, { ...REDIS, port: mutePort }, 300)
    const started = Date.now()
    // Repeated: the connection is never ready, and each attempt must give up on its own.
    const notices: NoticeEvent[] = []
    const onNotice = (message: unknown) => notices.push(message as NoticeEvent)
    events.notice.subscribe(onNotice)
    try {
      for (let i = 0; i < 3; i++) await assert.rejects(store.consume([check]), StoreUnavailable)
    } finally {
      events.notice.unsubscribe(onNotice)
    }
    assert.ok(Date.now() - started < 3000, `gave up in ${Date.now() - started} ms`)
    // Stalled, not closed: no connection error, yet the outage is logged, once.
    assert.deepEqual(
      notices.map((n) => [n.level, n.message.startsWith(`rate-limit Redis at 127.0.0.1:${mutePort} unreachable`)]),
      [['warn', true]],
    )
  })
})
