import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { KEY_FETCH_BACKOFF, removedKeys, retryDelay } from '../../../src/token/remote-keys.js'

describe('retryDelay', () => {
  test('doubles from the first delay up to the cap, jittered between half and all of it', () => {
    const rows: { failures: number; full: number }[] = [
      { failures: 1, full: 1000 },
      { failures: 2, full: 2000 },
      { failures: 5, full: 16_000 },
      { failures: 6, full: 30_000 },
      { failures: 60, full: 30_000 },
    ]
    for (const { failures, full } of rows) {
      assert.equal(retryDelay(failures, KEY_FETCH_BACKOFF, () => 0), full / 2, `failures ${failures}, least`)
      assert.equal(retryDelay(failures, KEY_FETCH_BACKOFF, () => 0.999_999), full, `failures ${failures}, most`)
    }
  })
})

describe('removedKeys', () => {
  test('keys gone from the new set, compared whole (a kid over new material counts as removed)', () => {
    const a = { kty: 'EC', kid: 'a', x: '1' }
    const b = { kty: 'EC', kid: 'b', x: '2' }
    const bNew = { kty: 'EC', kid: 'b', x: '3' }
    assert.deepEqual(removedKeys({ keys: [a, b] }, { keys: [a, b] }), [])
    assert.deepEqual(removedKeys({ keys: [a, b] }, { keys: [b] }), [a])
    assert.deepEqual(removedKeys({ keys: [a, b] }, { keys: [a, bNew] }), [b])
  })
})
