import { describe, test, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { createRedisStore } from '../../../src/state/redis-store.js'
import { createMemoryReplayCache, createStoreReplayCache, replayKey } from '../../../src/token/replay-cache.js'

// RFC 9449 §11.1: a (key, jti) pair is accepted once while its proof could still be accepted.

describe('memory replay cache', () => {
  test('a pair is new once, again new after its TTL; another key with the same jti is its own pair', async () => {
    const clock = { now: 1_000 }
    const cache = createMemoryReplayCache({ maxEntries: 10, now: () => clock.now })
    assert.equal(await cache.firstUse('key-a', 'j1', 600), true)
    assert.equal(await cache.firstUse('key-a', 'j1', 600), false)
    assert.equal(await cache.firstUse('key-b', 'j1', 600), true)
    clock.now += 600
    assert.equal(await cache.firstUse('key-a', 'j1', 600), true)
  })

  test('a full cache of live entries throws instead of forgetting one; expired entries make room', async () => {
    const clock = { now: 1_000 }
    const cache = createMemoryReplayCache({ maxEntries: 2, now: () => clock.now })
    assert.equal(await cache.firstUse('k', 'a', 100), true)
    assert.equal(await cache.firstUse('k', 'b', 100), true)
    await assert.rejects(cache.firstUse('k', 'c', 100), /full/)
    assert.equal(await cache.firstUse('k', 'a', 100), false, 'a live entry is still remembered')
    clock.now += 100
    assert.equal(await cache.firstUse('k', 'c', 100), true)
    assert.equal(cache.size, 1)
  })

  test('keys are a fixed-size hash, never the jti itself', () => {
    const key = replayKey('thumb', 'x'.repeat(200))
    assert.match(key, /^dpop-jti:[A-Za-z0-9_-]{43}$/)
  })
})

describe('Redis replay cache (real Redis at 127.0.0.1:6379)', () => {
  const prefix = `mcp-gw-test-${randomUUID()}:`
  const open = () =>
    createStoreReplayCache(createRedisStore({ url: 'redis://127.0.0.1:6379', username: undefined, password: undefined, keyPrefix: prefix, commandTimeout: 2_000 }))
  const a = open()
  const b = open()
  after(async () => {
    await a.close()
    await b.close()
    const admin = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 })
    const keys = await admin.keys(`${prefix}*`)
    if (keys.length > 0) await admin.del(...keys)
    await admin.quit()
  })

  test('two replicas on one Redis: the second sight of a pair is refused on either, with a PX expiry', async () => {
    assert.equal(await a.firstUse('key-a', 'j1', 5_000), true)
    assert.equal(await b.firstUse('key-a', 'j1', 5_000), false)
    assert.equal(await a.firstUse('key-a', 'j1', 5_000), false)
    assert.equal(await b.firstUse('key-a', 'j2', 5_000), true)
    const admin = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 })
    const ttl = await admin.pttl(`${prefix}${replayKey('key-a', 'j1')}`)
    await admin.quit()
    assert.ok(ttl > 4_000 && ttl <= 5_000, `pttl ${ttl}`)
  })

  test('concurrent first uses of one pair: exactly one wins', async () => {
    const results = await Promise.all([a.firstUse('key-c', 'j', 5_000), b.firstUse('key-c', 'j', 5_000), a.firstUse('key-c', 'j', 5_000)])
    assert.equal(results.filter(Boolean).length, 1)
  })
})
