import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { TokenCache } from '../../../src/common/token-cache.js'

describe('TokenCache', () => {
  test('keys are a SHA-256 of the token, never the token', () => {
    const key = TokenCache.key('secret-token')
    assert.equal(key, createHash('sha256').update('secret-token').digest('base64url'))
    assert.equal(key.length, 43)
    assert.ok(!key.includes('secret'))
    assert.notEqual(TokenCache.key('secret-token2'), key)
  })

  test('an entry lives until its expiry, not at it', () => {
    const cache = new TokenCache<string>(10)
    cache.set('k', 'v', 1000)
    assert.equal(cache.get('k', 999), 'v')
    assert.equal(cache.get('k', 1000), undefined)
    assert.equal(cache.size, 0)
  })

  test('least recently used goes first', () => {
    const cache = new TokenCache<string>(2)
    cache.set('a', 'A', Infinity)
    cache.set('b', 'B', Infinity)
    assert.equal(cache.get('a'), 'A')
    cache.set('c', 'C', Infinity)
    assert.equal(cache.get('b'), undefined)
    assert.equal(cache.get('a'), 'A')
    assert.equal(cache.get('c'), 'C')
    assert.equal(cache.size, 2)
  })

  test('setting an existing key refreshes it without growing', () => {
    const cache = new TokenCache<string>(2)
    cache.set('a', 'A1', Infinity)
    cache.set('a', 'A2', Infinity)
    assert.equal(cache.size, 1)
    assert.equal(cache.get('a'), 'A2')
  })

  test('size 0 disables the cache', () => {
    const cache = new TokenCache<string>(0)
    cache.set('a', 'A', Infinity)
    assert.equal(cache.get('a'), undefined)
    assert.equal(cache.size, 0)
  })

  test('clear empties it', () => {
    const cache = new TokenCache<string>(5)
    cache.set('a', 'A', Infinity)
    cache.clear()
    assert.equal(cache.size, 0)
  })
})
