import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { events, type NoticeEvent } from '../../../src/observability/events.js'
import { createRedisStore } from '../../../src/state/redis-store.js'
import type { StateStore } from '../../../src/state/store.js'

/** Against the real Redis at 127.0.0.1:6379; every test writes under a prefix of its own. */
const REDIS_URL = 'redis://127.0.0.1:6379'

describe('redis store', () => {
  let admin: Redis
  const prefixes: string[] = []
  const stores: StateStore[] = []

  const open = (prefix = `mcp-gw-test-${randomUUID()}:`, commandTimeout = 500) => {
    prefixes.push(prefix)
    const store = createRedisStore({ url: REDIS_URL, username: undefined, password: undefined, keyPrefix: prefix, commandTimeout })
    stores.push(store)
    return { store, prefix }
  }

  before(() => {
    admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
  })
  after(async () => {
    await Promise.all(stores.map((s) => s.close()))
    for (const prefix of prefixes) {
      const keys = await admin.keys(`${prefix}*`)
      if (keys.length > 0) await admin.del(...keys)
    }
    await admin.quit()
  })

  test('set then get, under the prefix, with a millisecond TTL', async () => {
    const { store, prefix } = open()
    await store.set('introspection:abc', '{"active":true}', 5_000)
    assert.equal(await store.get('introspection:abc'), '{"active":true}')
    assert.equal(await store.get('introspection:missing'), undefined)
    const ttl = await admin.pttl(`${prefix}introspection:abc`)
    assert.ok(ttl > 4_000 && ttl <= 5_000, `pttl ${ttl}`)
  })

  test('an entry is gone after its TTL', async () => {
    const { store } = open()
    await store.set('short', 'v', 100)
    assert.equal(await store.get('short'), 'v')
    await sleep(200)
    assert.equal(await store.get('short'), undefined)
  })

  test('two stores on one prefix see each other (two gateways), other prefixes do not', async () => {
    const { store: a, prefix } = open()
    const { store: b } = open(prefix)
    const { store: other } = open()
    await a.set('shared', 'from-a', 5_000)
    assert.equal(await b.get('shared'), 'from-a')
    assert.equal(await other.get('shared'), undefined)
  })

  test('a Redis that does not answer fails the command within the timeout instead of hanging', async () => {
    // A TCP server that accepts and never replies: the command must time out, not wait forever.
    const sockets = new Set<Socket>()
    const silent: Server = createServer((socket) => {
      sockets.add(socket)
      socket.on('data', () => undefined)
    })
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const port = (silent.address() as { port: number }).port
    const store = createRedisStore({ url: `redis://127.0.0.1:${port}`, username: undefined, password: undefined, keyPrefix: 'x:', commandTimeout: 200 })
    const started = performance.now()
    await assert.rejects(store.get('k'))
    assert.ok(performance.now() - started < 3_000)
    await store.close()
    for (const socket of sockets) socket.destroy()
    await new Promise<void>((resolve) => silent.close(() => resolve()))
  })
})

describe('redis store while Redis hangs', () => {
  test('a stalled Redis (accepting, never answering) is logged once per outage, and its recovery once', async () => {
    // A relay to the real Redis that holds what the client sends while "stalled", then lets it through.
    let stalled = true
    const held: Array<() => void> = []
    const sockets = new Set<Socket>()
    const relay: Server = createServer((client) => {
      const upstream = createConnection(6379, '127.0.0.1')
      for (const s of [client, upstream]) {
        sockets.add(s)
        s.on('error', () => undefined)
      }
      upstream.pipe(client)
      client.on('data', (chunk: Buffer) => (stalled ? held.push(() => upstream.write(chunk)) : upstream.write(chunk)))
    })
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve))
    const port = (relay.address() as { port: number }).port
    const notices: NoticeEvent[] = []
    const onNotice = (message: unknown) => notices.push(message as NoticeEvent)
    events.notice.subscribe(onNotice)
    const prefix = `mcp-gw-test-${randomUUID()}:`
    const store = createRedisStore({ url: `redis://127.0.0.1:${port}`, username: undefined, password: undefined, keyPrefix: prefix, commandTimeout: 150 })
    try {
      for (let i = 0; i < 3; i++) await assert.rejects(store.get('k'))
      assert.deepEqual(
        notices.map((n) => [n.level, /unreachable/.test(n.message)]),
        [['warn', true]],
        'one warning for three timed-out commands',
      )
      stalled = false
      for (const send of held.splice(0)) send()
      let answered = false
      for (let i = 0; i < 50 && !answered; i++) {
        answered = await store.get('k').then(() => true, () => false)
        if (!answered) await sleep(50)
      }
      assert.ok(answered, 'the store answers once Redis does')
      assert.deepEqual(notices.map((n) => [n.level, /reachable again/.test(n.message)]).slice(1), [['info', true]])
      assert.ok(notices.every((n) => !n.message.includes(prefix)))
    } finally {
      events.notice.unsubscribe(onNotice)
      await store.close()
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => relay.close(() => resolve()))
    }
  })
})

describe('redis store while Redis is down', () => {
  test('commands reject at once once the connection is known lost, instead of waiting out the timeout', async () => {
    // Port 1 on loopback refuses connections: the client goes to `reconnecting` after the first try.
    const store = createRedisStore({ url: 'redis://127.0.0.1:1', username: undefined, password: undefined, keyPrefix: 'x:', commandTimeout: 2_000 })
    await assert.rejects(store.get('k'))
    const started = performance.now()
    for (let i = 0; i < 5; i++) await assert.rejects(store.get('k'), /not connected/)
    await assert.rejects(store.set('k', 'v', 1_000), /not connected/)
    assert.ok(performance.now() - started < 500, 'no command waited for the 2s timeout')
    await store.close()
  })
})
