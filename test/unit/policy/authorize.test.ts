import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { InsufficientScope } from '../../../src/errors.js'
import { authorize, authorizeHttpRequest } from '../../../src/policy/authorize.js'
import type { ScopesConfigInput } from '../../../src/policy/scopes-schema.js'
import { EXAMPLE, policyOf, principalOf, requestOf } from './support.js'

interface Row {
  name: string
  config?: ScopesConfigInput
  scopes: string[]
  claims?: Record<string, unknown>
  clientId?: string
  messages: [string | null, string?][]
  /** `undefined`: allowed; otherwise the challenge scope and reason. */
  deny?: { scope: string[]; reason?: 'insufficient_scope' | 'tool_not_allowed' }
}

const BASE = ['mcp:connect']
const CALL = ['mcp:connect', 'mcp:tools:call']

const rows: Row[] = [
  // required, then method
  { name: 'tools/list with its scope', scopes: [...BASE, 'mcp:tools:read'], messages: [['tools/list']] },
  { name: 'tools/list without its scope', scopes: BASE, messages: [['tools/list']], deny: { scope: ['mcp:connect', 'mcp:tools:read'] } },
  { name: 'required scope missing', scopes: ['mcp:tools:read'], messages: [['tools/list']], deny: { scope: ['mcp:connect', 'mcp:tools:read'] } },
  { name: 'no scopes at all on ping', scopes: [], messages: [['ping']], deny: { scope: ['mcp:connect'] } },
  { name: 'unlisted method needs required only', scopes: BASE, messages: [['completion/complete']] },
  { name: 'client response needs required only', scopes: BASE, messages: [[null]] },
  // per tool, additive, with implies
  { name: 'unlisted tool needs the tools/call scopes', scopes: CALL, messages: [['tools/call', 'echo']] },
  { name: 'tool scope held directly', scopes: [...CALL, 'repo:read'], messages: [['tools/call', 'read_repo']] },
  { name: 'tool scope implied (admin -> write -> read)', scopes: [...CALL, 'repo:admin'], messages: [['tools/call', 'read_repo']] },
  { name: 'tool scope implied one level', scopes: [...CALL, 'repo:write'], messages: [['tools/call', 'write_both']] },
  {
    name: 'narrower scope does not imply broader',
    scopes: [...CALL, 'repo:read'],
    messages: [['tools/call', 'delete_repo']],
    deny: { scope: ['mcp:connect', 'mcp:tools:call', 'repo:admin'] },
  },
  {
    name: 'tool scope without the tools/call scope',
    scopes: [...BASE, 'repo:admin'],
    messages: [['tools/call', 'delete_repo']],
    deny: { scope: ['mcp:connect', 'mcp:tools:call', 'repo:admin'] },
  },
  {
    name: 'challenge drops a needed scope another needed scope implies',
    scopes: CALL,
    messages: [['tools/call', 'write_both']],
    deny: { scope: ['mcp:connect', 'mcp:tools:call', 'repo:write'] },
  },
  // prompts
  { name: 'prompt with its scope', scopes: [...BASE, 'mcp:prompts', 'prompts:secret'], messages: [['prompts/get', 'secret']] },
  {
    name: 'prompt without its scope',
    scopes: [...BASE, 'mcp:prompts'],
    messages: [['prompts/get', 'secret']],
    deny: { scope: ['mcp:connect', 'mcp:prompts', 'prompts:secret'] },
  },
  // resources: exact, longest prefix, catch-all
  { name: 'exact resource rule', scopes: [...BASE, 'mcp:resources:read', 'root'], messages: [['resources/read', 'file:///etc/passwd']] },
  {
    name: 'exact resource rule wins over the prefix',
    scopes: [...BASE, 'mcp:resources:read', 'files:read'],
    messages: [['resources/read', 'file:///etc/passwd']],
    deny: { scope: ['mcp:connect', 'mcp:resources:read', 'root'] },
  },
  {
    name: 'longest prefix wins',
    scopes: [...BASE, 'mcp:resources:read', 'files:read'],
    messages: [['resources/read', 'file:///secret/key']],
    deny: { scope: ['mcp:connect', 'mcp:resources:read', 'secret:read'] },
  },
  { name: 'longest prefix with no scopes', scopes: [...BASE, 'mcp:resources:read'], messages: [['resources/read', 'file:///secret/public/a']] },
  { name: 'shorter prefix', scopes: [...BASE, 'mcp:resources:read', 'files:read'], messages: [['resources/read', 'file:///home/a']] },
  { name: 'no resource rule matches', scopes: [...BASE, 'mcp:resources:read'], messages: [['resources/read', 'https://x/y']] },
  {
    name: 'resources/subscribe uses the resource rules',
    scopes: [...BASE, 'files:read'],
    messages: [['resources/subscribe', 'file:///secret/k']],
    deny: { scope: ['mcp:connect', 'secret:read'] },
  },
  // batches: message by message, fail closed, challenge = union
  {
    name: 'batch all allowed',
    scopes: [...CALL, 'mcp:tools:read'],
    messages: [['tools/list'], ['tools/call', 'echo'], [null], ['notifications/initialized']],
  },
  {
    name: 'batch mixing allowed and denied is denied, challenge names the union',
    scopes: [...CALL, 'mcp:tools:read'],
    messages: [['tools/list'], ['tools/call', 'delete_repo'], ['tools/call', 'echo']],
    deny: { scope: ['mcp:connect', 'mcp:tools:read', 'mcp:tools:call', 'repo:admin'] },
  },
  // allowed-tools claim
  { name: 'claim lists the tool', scopes: CALL, claims: { mcp_allowed_tools: ['echo'] }, messages: [['tools/call', 'echo']] },
  { name: 'claim as a space-separated string', scopes: CALL, claims: { mcp_allowed_tools: 'a echo' }, messages: [['tools/call', 'echo']] },
  {
    name: 'claim does not list the tool',
    scopes: [...CALL, 'repo:admin'],
    claims: { mcp_allowed_tools: ['echo'] },
    messages: [['tools/call', 'delete_repo']],
    deny: { scope: ['mcp:connect', 'mcp:tools:call', 'repo:admin'], reason: 'tool_not_allowed' },
  },
  {
    name: 'empty claim allows no tool',
    scopes: CALL,
    claims: { mcp_allowed_tools: [] },
    messages: [['tools/call', 'echo']],
    deny: { scope: CALL, reason: 'tool_not_allowed' },
  },
  {
    name: 'claim of another type allows no tool',
    scopes: CALL,
    claims: { mcp_allowed_tools: { echo: true } },
    messages: [['tools/call', 'echo']],
    deny: { scope: CALL, reason: 'tool_not_allowed' },
  },
  { name: 'claim does not restrict other methods', scopes: [...BASE, 'mcp:tools:read'], claims: { mcp_allowed_tools: [] }, messages: [['tools/list']] },
  {
    name: 'scope denial wins the reason over a claim denial in a batch',
    scopes: CALL,
    claims: { mcp_allowed_tools: ['echo'] },
    messages: [['tools/call', 'other'], ['tools/list']],
    deny: { scope: ['mcp:connect', 'mcp:tools:call', 'mcp:tools:read'], reason: 'insufficient_scope' },
  },
  {
    name: 'configured claim name',
    config: { ...EXAMPLE, allowedToolsClaim: 'tools' },
    scopes: CALL,
    claims: { tools: ['x'], mcp_allowed_tools: ['echo'] },
    messages: [['tools/call', 'echo']],
    deny: { scope: CALL, reason: 'tool_not_allowed' },
  },
  {
    name: 'claim ignored when turned off',
    config: { ...EXAMPLE, allowedToolsClaim: false },
    scopes: CALL,
    claims: { mcp_allowed_tools: [] },
    messages: [['tools/call', 'echo']],
  },
  // compat switch: add the token's scopes, never offline_access
  {
    name: 'compat on: token scopes added after the needed ones',
    config: { ...EXAMPLE, challengeIncludesTokenScopes: true },
    scopes: ['mcp:connect', 'mcp:tools:call', 'other:scope', 'offline_access'],
    messages: [['tools/call', 'delete_repo']],
    deny: { scope: ['mcp:connect', 'mcp:tools:call', 'repo:admin', 'other:scope'] },
  },
  {
    name: 'compat for a listed client_id',
    config: { ...EXAMPLE, challengeIncludesTokenScopes: { clients: ['legacy-client'] } },
    clientId: 'legacy-client',
    scopes: [...CALL, 'x:y'],
    messages: [['tools/call', 'delete_repo']],
    deny: { scope: ['mcp:connect', 'mcp:tools:call', 'repo:admin', 'x:y'] },
  },
  {
    name: 'compat not for another client_id',
    config: { ...EXAMPLE, challengeIncludesTokenScopes: { clients: ['legacy-client'] } },
    clientId: 'modern-client',
    scopes: [...CALL, 'x:y'],
    messages: [['tools/call', 'delete_repo']],
    deny: { scope: ['mcp:connect', 'mcp:tools:call', 'repo:admin'] },
  },
  {
    name: 'compat default on, without a client_id',
    config: { ...EXAMPLE, challengeIncludesTokenScopes: { default: true } },
    scopes: [...CALL, 'x:y'],
    messages: [['tools/call', 'delete_repo']],
    deny: { scope: ['mcp:connect', 'mcp:tools:call', 'repo:admin', 'x:y'] },
  },
  // '*' fallbacks
  {
    name: "methods '*' covers unlisted methods",
    config: { required: ['a'], methods: { '*': ['b'], 'tools/list': [] } },
    scopes: ['a'],
    messages: [['completion/complete']],
    deny: { scope: ['a', 'b'] },
  },
  { name: "methods '*' does not apply to listed methods", config: { required: ['a'], methods: { '*': ['b'], 'tools/list': [] } }, scopes: ['a'], messages: [['tools/list']] },
  {
    name: "tools '*' covers unlisted tools",
    config: { tools: { '*': ['t:any'], echo: [] } },
    scopes: [],
    messages: [['tools/call', 'other']],
    deny: { scope: ['t:any'] },
  },
  { name: "tools '*' does not apply to listed tools", config: { tools: { '*': ['t:any'], echo: [] } }, scopes: [], messages: [['tools/call', 'echo']] },
  // implies cycle: equivalent scopes, the challenge keeps one
  { name: 'implies cycle grants both', config: { tools: { t: ['a', 'b'] }, implies: { a: ['b'], b: ['a'] } }, scopes: ['b'], messages: [['tools/call', 't']] },
  { name: 'implies cycle challenge names one', config: { tools: { t: ['a', 'b'] }, implies: { a: ['b'], b: ['a'] } }, scopes: [], messages: [['tools/call', 't']], deny: { scope: ['a'] } },
  // names that exist on Object.prototype are not rules
  { name: 'tool named constructor', scopes: CALL, messages: [['tools/call', 'constructor']] },
  { name: 'method named __proto__', scopes: BASE, messages: [['__proto__']] },
]

describe('authorize', () => {
  for (const row of rows) {
    test(row.name, () => {
      const policy = policyOf(row.config ?? EXAMPLE)
      const principal = principalOf(row.scopes, row.claims, row.clientId)
      const request = requestOf(row.messages)
      if (row.deny === undefined) {
        assert.doesNotThrow(() => authorize(policy, principal, request))
        return
      }
      const deny = row.deny
      assert.throws(
        () => authorize(policy, principal, request),
        (error: unknown) => {
          assert.ok(error instanceof InsufficientScope)
          assert.equal(error.status, 403)
          assert.equal(error.bearerError, 'insufficient_scope')
          assert.equal(error.reason, deny.reason ?? 'insufficient_scope')
          assert.deepEqual(error.scope, deny.scope)
          assert.ok(!error.scope.includes('offline_access'))
          assert.doesNotMatch(error.description, /=/)
          return true
        },
      )
    })
  }
})

describe('authorizeHttpRequest (GET/DELETE: required scopes only)', () => {
  const policy = policyOf(EXAMPLE)
  test('allowed with the required scopes', () => {
    assert.doesNotThrow(() => authorizeHttpRequest(policy, principalOf(['mcp:connect'])))
  })
  test('denied without them, challenge names them', () => {
    assert.throws(() => authorizeHttpRequest(policy, principalOf(['mcp:tools:read', 'offline_access'])), {
      status: 403,
      scope: ['mcp:connect'],
    })
  })
  test('allowed through implies', () => {
    const p = policyOf({ required: ['read'], implies: { admin: ['read'] } })
    assert.doesNotThrow(() => authorizeHttpRequest(p, principalOf(['admin'])))
  })
  test('nothing required', () => {
    assert.doesNotThrow(() => authorizeHttpRequest(policyOf({}), principalOf([])))
  })
})
