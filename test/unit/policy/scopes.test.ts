import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { expandImplied, holdsAll, impliedBy, impliesClosure, scopesFromClaims } from '../../../src/policy/scopes.js'

const claimCases: { name: string; claims: Record<string, unknown>; claimName?: string; expected: string[] }[] = [
  { name: 'scope string', claims: { scope: 'a b  c' }, expected: ['a', 'b', 'c'] },
  { name: 'scp string (Entra)', claims: { scp: 'files.read user.read' }, expected: ['files.read', 'user.read'] },
  { name: 'scp array', claims: { scp: ['a', 'b', 7, null] }, expected: ['a', 'b'] },
  { name: 'scope wins over scp', claims: { scope: 'a', scp: ['b'] }, expected: ['a'] },
  { name: 'scope array', claims: { scope: ['a', 'b'] }, expected: ['a', 'b'] },
  { name: 'empty string', claims: { scope: '' }, expected: [] },
  { name: 'no claim', claims: {}, expected: [] },
  { name: 'not a string or array', claims: { scope: 42 }, expected: [] },
  { name: 'configured claim name', claims: { scope: 'a', permissions: ['x', 'y'] }, claimName: 'permissions', expected: ['x', 'y'] },
  { name: 'configured claim absent', claims: { scope: 'a' }, claimName: 'permissions', expected: [] },
]

describe('scopesFromClaims', () => {
  for (const row of claimCases) {
    test(row.name, () => assert.deepEqual([...scopesFromClaims(row.claims, row.claimName)], row.expected))
  }
})

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
