import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { readScopes } from '../../../src/token/scopes-claim.js'

const cases: { name: string; claims: Record<string, unknown>; claim?: string; expected: string[] }[] = [
  { name: 'scope string (RFC 9068 §2.2.3)', claims: { scope: 'a b  c' }, expected: ['a', 'b', 'c'] },
  { name: 'scp string (Entra ID)', claims: { scp: 'files.read user.read' }, expected: ['files.read', 'user.read'] },
  { name: 'scp array (Okta)', claims: { scp: ['a', 'b', 7, null] }, expected: ['a', 'b'] },
  { name: 'scope wins over scp', claims: { scope: 'a', scp: ['b'] }, expected: ['a'] },
  { name: 'scope array', claims: { scope: ['a', 'b'] }, expected: ['a', 'b'] },
  { name: 'empty string', claims: { scope: '' }, expected: [] },
  { name: 'no claim', claims: {}, expected: [] },
  { name: 'not a string or array', claims: { scope: 42 }, expected: [] },
  { name: 'configured claim (Auth0 permissions)', claims: { scope: 'a', permissions: ['x', 'y'] }, claim: 'permissions', expected: ['x', 'y'] },
  { name: 'configured claim absent: no fallback', claims: { scope: 'a' }, claim: 'permissions', expected: [] },
]

describe('readScopes', () => {
  for (const row of cases) {
    test(row.name, () => assert.deepEqual([...readScopes(row.claims, row.claim ?? 'scope')], row.expected))
  }
})
