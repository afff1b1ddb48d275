import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { scopesSchema } from '../../../src/policy/scopes-schema.js'

test('defaults', () => {
  assert.deepEqual(scopesSchema.parse({}), {
    required: [],
    methods: {},
    tools: {},
    prompts: {},
    resources: {},
    implies: {},
    filterLists: false,
    challengeIncludesTokenScopes: false,
    allowedToolsClaim: 'mcp_allowed_tools',
  })
})

test('the issue 3 example parses', () => {
  const parsed = scopesSchema.parse({
    required: ['mcp:connect'],
    methods: { 'tools/list': ['mcp:tools:read'], 'tools/call': ['mcp:tools:call'], 'resources/read': ['mcp:resources:read'] },
    tools: { delete_repo: ['repo:admin'] },
    prompts: { summarize: ['prompts:use'] },
    resources: { 'file:///public/*': [], 'file:///etc/passwd': ['root'] },
    implies: { 'repo:admin': ['repo:read', 'repo:write'] },
    filterLists: true,
    challengeIncludesTokenScopes: { clients: ['claude-code'] },
    allowedToolsClaim: false,
  })
  assert.deepEqual(parsed.challengeIncludesTokenScopes, { default: false, clients: ['claude-code'] })
  assert.equal(parsed.allowedToolsClaim, false)
  assert.deepEqual(parsed.tools, { delete_repo: ['repo:admin'] })
})

test('scope lists accept environment strings (space or comma separated)', () => {
  const parsed = scopesSchema.parse({ required: 'mcp:connect mcp:read', supported: 'mcp:connect,mcp:read,mcp:write' })
  assert.deepEqual(parsed.required, ['mcp:connect', 'mcp:read'])
  assert.deepEqual(parsed.supported, ['mcp:connect', 'mcp:read', 'mcp:write'])
})

const invalid: { name: string; input: unknown; path: (string | number)[]; message?: RegExp }[] = [
  { name: 'offline_access in required', input: { required: ['a', 'offline_access'] }, path: ['required', 1], message: /offline_access/ },
  { name: 'offline_access in supported', input: { supported: ['offline_access'] }, path: ['supported', 0] },
  { name: 'offline_access in a tool rule', input: { tools: { t: ['offline_access'] } }, path: ['tools', 't', 0] },
  { name: 'offline_access as an implies key', input: { implies: { offline_access: ['a'] } }, path: ['implies', 'offline_access'] },
  { name: 'required not in supported', input: { required: ['a', 'b'], supported: ['a'] }, path: ['required', 1], message: /"b"/ },
  { name: 'scope with a quote', input: { methods: { 'tools/call': ['a"b'] } }, path: ['methods', 'tools/call', 0], message: /scope token/ },
  { name: 'scope with a backslash', input: { required: ['a\\b'] }, path: ['required', 0] },
  { name: 'star inside a resource pattern', input: { resources: { 'file:///*/x': ['a'] } }, path: ['resources', 'file:///*/x'] },
  { name: 'unknown key', input: { filterList: true }, path: [] },
  { name: 'filterLists not boolean', input: { filterLists: 'yes' }, path: ['filterLists'] },
  { name: 'compat with an unknown key', input: { challengeIncludesTokenScopes: { clientIds: [] } }, path: ['challengeIncludesTokenScopes'] },
  { name: 'empty allowedToolsClaim', input: { allowedToolsClaim: '' }, path: ['allowedToolsClaim'] },
  { name: 'allowedToolsClaim true', input: { allowedToolsClaim: true }, path: ['allowedToolsClaim'] },
]

describe('scopesSchema rejects with the key path', () => {
  for (const row of invalid) {
    test(row.name, () => {
      const result = scopesSchema.safeParse(row.input)
      assert.equal(result.success, false)
      const issue = result.error?.issues.find((i) => JSON.stringify(i.path) === JSON.stringify(row.path))
      assert.ok(issue, `no issue at ${JSON.stringify(row.path)}: ${JSON.stringify(result.error?.issues)}`)
      if (row.message) assert.match(issue.message, row.message)
    })
  }
})

test('implies cycles are accepted', () => {
  assert.equal(scopesSchema.safeParse({ implies: { a: ['b'], b: ['a'] } }).success, true)
})

test('every field is described (the config docs are generated from the descriptions)', () => {
  assert.ok(scopesSchema.description)
  for (const [key, field] of Object.entries(scopesSchema.shape)) {
    assert.ok((field as { description?: string }).description, `scopes.${key} has no description`)
  }
})
