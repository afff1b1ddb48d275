import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { createIntrospectionCap } from '../../../src/token/introspection-cap.js'

/** Token buckets on a fake clock: a second's worth of calls at once, then the rate. */
describe('createIntrospectionCap', () => {
  const clock = (start = 1_000_000) => {
    let t = start
    return { now: () => t, advance: (ms: number) => void (t += ms) }
  }

  test('per client: a burst of `perClient`, then one call per 1/perClient s; other clients unaffected', () => {
    const c = clock()
    const cap = createIntrospectionCap({ perClient: 3, total: 0, now: c.now })
    assert.deepEqual([1, 2, 3].map(() => cap.take('10.0.0.1')), [undefined, undefined, undefined])
    assert.equal(cap.take('10.0.0.1'), 1)
    assert.equal(cap.take('10.0.0.2'), undefined)
    c.advance(340)
    assert.equal(cap.take('10.0.0.1'), undefined)
    assert.equal(cap.take('10.0.0.1'), 1)
  })

  test('in total: every client draws on one bucket; a refused call takes nothing from either', () => {
    const c = clock()
    const cap = createIntrospectionCap({ perClient: 2, total: 3, now: c.now })
    assert.equal(cap.take('a'), undefined)
    assert.equal(cap.take('a'), undefined)
    assert.equal(cap.take('a'), 1, 'a: per client')
    assert.equal(cap.take('b'), undefined)
    assert.equal(cap.take('b'), 1, 'b: in total')
    // 340 ms gives the total bucket one call (3/s) but b's own bucket only 0.68 (2/s): b passes
    // only if the refused call took nothing from its own bucket.
    c.advance(340)
    assert.equal(cap.take('b'), undefined, "b's own bucket kept its unused call")
  })

  test('Retry-After is whole seconds until the next call, at least 1', () => {
    const c = clock()
    const cap = createIntrospectionCap({ perClient: 0, total: 1, now: c.now })
    assert.equal(cap.take(undefined), undefined)
    assert.equal(cap.take(undefined), 1)
    const slow = createIntrospectionCap({ perClient: 0, total: 0, now: c.now })
    for (let i = 0; i < 100; i++) assert.equal(slow.take('x'), undefined, '0 turns both caps off')
  })
})
