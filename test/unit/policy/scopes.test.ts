import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { expandImplied, holdsAll, impliedBy, impliesClosure } from '../../../src/policy/scopes.js'

describe('implies', () => {
  const closure = impliesClosure({ admin: ['write'], write: ['read'], a: ['b'], b: ['c'], c: ['a'] })
  test('closure is transitive', () => {
    assert.deepEqual([...(closure.get('admin') ?? [])].sort(), ['read', 'write'])
    assert.deepEqual([...(closure.get('write') ?? [])], ['read'])
    assert.equal(closure.get('read'), undefined)
  })
  test('a cycle makes its members equivalent, without self-loops', () => {
    assert.deepEqual([...(closure.get('a') ?? [])].sort(), ['b', 'c'])
    assert.deepEqual([...(closure.get('c') ?? [])].sort(), ['a', 'b'])
  })
  test('expandImplied', () => {
    assert.deepEqual([...expandImplied(['admin', 'x'], closure)].sort(), ['admin', 'read', 'write', 'x'])
    assert.deepEqual([...expandImplied([], closure)], [])
  })
  test('holdsAll through the inverse', () => {
    const holders = impliedBy(closure)
    assert.equal(holdsAll(new Set(['admin']), ['read', 'write'], holders), true)
    assert.equal(holdsAll(new Set(['write']), ['admin'], holders), false)
    assert.equal(holdsAll(new Set(['c']), ['a', 'b'], holders), true)
    assert.equal(holdsAll(new Set(), [], holders), true)
  })
})
