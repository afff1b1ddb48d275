import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { createMemoryStore } from '../../../src/state/memory-store.js'

describe('memory store', () => {
  test('an entry lives for its TTL and no longer', async () => {
    let now = 1_000
    const store = createMemoryStore({ maxEntries: 10, now: () => now })
    await store.set('k', 'v', 500)
    assert.equal(await store.get('k'), 'v')
    now = 1_499
    assert.equal(await store.get('k'), 'v')
    now = 1_500
    assert.equal(await store.get('k'), undefined)
  })

  test('bounded: the least recently used entry goes first', async () => {
    const store = createMemoryStore({ maxEntries: 2 })
    await store.set('a', '1', 60_000)
    await store.set('b', '2', 60_000)
    assert.equal(await store.get('a'), '1')
    await store.set('c', '3', 60_000)
    assert.equal(store.size, 2)
    assert.equal(await store.get('b'), undefined)
    assert.equal(await store.get('a'), '1')
    assert.equal(await store.get('c'), '3')
  })

  test('a TTL of 0 or a size of 0 keeps nothing', async () => {
    const store = createMemoryStore({ maxEntries: 10 })
    await store.set('k', 'v', 0)
    assert.equal(await store.get('k'), undefined)
    const none = createMemoryStore({ maxEntries: 0 })
    await none.set('k', 'v', 60_000)
    assert.equal(await none.get('k'), undefined)
  })
})
