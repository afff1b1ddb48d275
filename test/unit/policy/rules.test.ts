import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { ScopesConfig } from '../../../src/policy/scopes-schema.js'
import { compilePolicy, methodScopes, resourceScopes, targetScopes } from '../../../src/policy/rules.js'
import { EXAMPLE, policyOf } from './support.js'

test('scopesSupported defaults to every scope named, in order', () => {
  const policy = policyOf({ required: ['c'], methods: { 'tools/call': ['t', 'c'] }, tools: { x: ['r'] }, implies: { admin: ['r', 'w'] } })
  assert.deepEqual(policy.scopesSupported, ['c', 't', 'r', 'admin', 'w'])
  assert.deepEqual(policy.challengeScope, ['c'])
})

test('scopesSupported is the configured list when given', () => {
  assert.deepEqual(policyOf({ required: ['a'], supported: ['a', 'b'], tools: { x: ['z'] } }).scopesSupported, ['a', 'b'])
})

test('offline_access never reaches scopesSupported, even past the schema', () => {
  const raw: ScopesConfig = {
    required: [],
    supported: ['a', 'offline_access'],
    methods: {},
    tools: {},
    prompts: {},
    resources: {},
    implies: {},
    filterLists: false,
    challengeIncludesTokenScopes: false,
    allowedToolsClaim: 'mcp_allowed_tools',
  }
  assert.deepEqual(compilePolicy(raw).scopesSupported, ['a'])
  assert.deepEqual(compilePolicy({ ...raw, supported: undefined, required: ['offline_access', 'b'] }).scopesSupported, ['b'])
})

test('method scopes include required and are de-duplicated', () => {
  const policy = policyOf({ required: ['c'], methods: { 'tools/call': ['c', 't', 't'], '*': ['o'] } })
  assert.deepEqual(methodScopes(policy, 'tools/call'), ['c', 't'])
  assert.deepEqual(methodScopes(policy, 'anything/else'), ['c', 'o'])
  assert.deepEqual(methodScopes(policy, undefined), ['c'])
})

test('resource rules: exact, then the longest prefix', () => {
  const policy = policyOf(EXAMPLE)
  const rows: [string, string[]][] = [
    ['file:///etc/passwd', ['root']],
    ['file:///etc/passwd2', ['files:read']],
    ['file:///secret/a', ['secret:read']],
    ['file:///secret/public/a', []],
    ['file:///secret', ['files:read']],
    ['https://example.com/', []],
  ]
  for (const [uri, expected] of rows) assert.deepEqual(resourceScopes(policy, uri), expected, uri)
  assert.deepEqual(resourceScopes(policyOf({ resources: { '*': ['any'] } }), 'x:y'), ['any'])
})

test('target scopes per method', () => {
  const policy = policyOf(EXAMPLE)
  assert.deepEqual(targetScopes(policy, 'tools/call', 'delete_repo'), ['repo:admin'])
  assert.deepEqual(targetScopes(policy, 'prompts/get', 'secret'), ['prompts:secret'])
  assert.deepEqual(targetScopes(policy, 'resources/unsubscribe', 'file:///etc/passwd'), ['root'])
  assert.deepEqual(targetScopes(policy, 'tools/list', 'delete_repo'), [])
  assert.deepEqual(targetScopes(policy, 'tools/call', undefined), [])
})

test('lists: what may vary', () => {
  assert.equal(policyOf({}).lists.tools.mayVary, true) // the allowed-tools claim can vary it
  assert.equal(policyOf({ allowedToolsClaim: false }).lists.tools.mayVary, false)
  assert.equal(policyOf({ required: ['a'], methods: { 'prompts/get': ['a'] } }).lists.prompts.mayVary, false)
  assert.equal(policyOf({ prompts: { p: ['x'] } }).lists.prompts.mayVary, true)
  const example = policyOf(EXAMPLE)
  assert.deepEqual([...example.lists.resources.everyScope].sort(), ['files:read', 'mcp:resources:read', 'root', 'secret:read'])
})
