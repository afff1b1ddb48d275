import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { filterJsonBody, filterJsonRpcResponse, listFilterFor, type ListFilter } from '../../../src/policy/filter-list.js'
import type { ProtocolVersion } from '../../../src/jsonrpc/protocol-version.js'
import { EXAMPLE, policyOf, principalOf, requestOf } from './support.js'

const FILTERED = { ...EXAMPLE, filterLists: true }
const CALL = ['mcp:connect', 'mcp:tools:read', 'mcp:tools:call']

const TOOLS = [
  { name: 'echo', description: 'e' },
  { name: 'delete_repo' },
  { name: 'read_repo', inputSchema: { type: 'object' } },
  { title: 'no name' },
  'not an object',
  { name: 'write_both' },
]

function toolsResponse(id: number | string = 1, extra: Record<string, unknown> = {}) {
  return {
    jsonrpc: '2.0',
    id,
    result: { tools: TOOLS, nextCursor: 'c2', ttlMs: 30000, resultType: 'complete', cacheScope: 'public', _meta: { k: 1 }, ...extra },
  }
}

function filterFor(scopes: string[], methods: [string, string?][], version: ProtocolVersion, claims: Record<string, unknown> = {}, config = FILTERED): ListFilter | undefined {
  return listFilterFor(policyOf(config), principalOf(scopes, claims), requestOf(methods, version))
}

describe('listFilterFor', () => {
  const rows: { name: string; config?: typeof FILTERED; scopes: string[]; methods: [string, string?][]; version: ProtocolVersion; claims?: Record<string, unknown>; defined: boolean }[] = [
    { name: 'filterLists off', config: { ...EXAMPLE, filterLists: false }, scopes: [], methods: [['tools/list']], version: '2025-11-25', defined: false },
    { name: 'no list request', scopes: CALL, methods: [['tools/call', 'echo']], version: '2026-07-28', defined: false },
    { name: 'legacy caller who would see less', scopes: CALL, methods: [['tools/list']], version: '2025-11-25', defined: true },
    {
      name: 'legacy caller who sees everything: stream untouched',
      scopes: [...CALL, 'repo:admin'],
      methods: [['tools/list']],
      version: '2025-06-18',
      defined: false,
    },
    {
      name: 'modern caller who sees everything: still marked private',
      scopes: [...CALL, 'repo:admin'],
      methods: [['tools/list']],
      version: '2026-07-28',
      defined: true,
    },
    {
      name: 'modern list that cannot vary: untouched',
      config: { filterLists: true, allowedToolsClaim: false },
      scopes: [],
      methods: [['tools/list']],
      version: '2026-07-28',
      defined: false,
    },
    { name: 'claim present makes the tools list vary', scopes: [...CALL, 'repo:admin'], claims: { mcp_allowed_tools: ['echo'] }, methods: [['tools/list']], version: '2025-11-25', defined: true },
    { name: 'resources/list with partial scopes', scopes: ['mcp:connect', 'mcp:resources:read', 'files:read'], methods: [['resources/list']], version: '2025-03-26', defined: true },
    { name: 'batch with one list among calls', scopes: CALL, methods: [['tools/call', 'echo'], ['prompts/list']], version: '2025-03-26', defined: true },
  ]
  for (const row of rows) {
    test(row.name, () => {
      const filter = filterFor(row.scopes, row.methods, row.version, row.claims, row.config)
      assert.equal(filter !== undefined, row.defined)
    })
  }
})

describe('list modes kept per principal', () => {
  test('one principal under two policies (a reload) gets each policy its own answer', () => {
    const principal = principalOf(CALL)
    const request = requestOf([['tools/list']], '2025-11-25')
    const strict = policyOf(FILTERED)
    const open = policyOf({ ...FILTERED, tools: {} })
    assert.equal(listFilterFor(strict, principal, request)?.modes.tools, 'check')
    assert.equal(listFilterFor(open, principal, request), undefined, 'nothing to hide under the open policy')
    assert.equal(listFilterFor(strict, principal, request)?.modes.tools, 'check')
  })

  test('principals with other scopes or claims do not share an answer', () => {
    const policy = policyOf(FILTERED)
    const request = requestOf([['tools/list']], '2025-11-25')
    assert.equal(listFilterFor(policy, principalOf([...CALL, 'repo:admin']), request), undefined)
    assert.equal(listFilterFor(policy, principalOf(CALL), request)?.modes.tools, 'check')
    assert.equal(listFilterFor(policy, principalOf(['mcp:connect', 'mcp:tools:read']), request)?.modes.tools, 'none')
    const claimed = listFilterFor(policy, principalOf([...CALL, 'repo:admin'], { mcp_allowed_tools: ['echo'] }), request)
    assert.deepEqual([...(claimed?.allowedTools ?? [])], ['echo'])
  })
})

describe('filterJsonRpcResponse', () => {
  test('drops tools the caller may not call, keeps order and every other field, private on 2026-07-28', () => {
    const filter = filterFor([...CALL, 'repo:read'], [['tools/list']], '2026-07-28')
    assert.ok(filter)
    const input = toolsResponse()
    const snapshot = structuredClone(input)
    const out = filterJsonRpcResponse(filter, input, '2026-07-28')
    assert.deepEqual(out, {
      jsonrpc: '2.0',
      id: 1,
      result: {
        tools: [{ name: 'echo', description: 'e' }, { name: 'read_repo', inputSchema: { type: 'object' } }],
        nextCursor: 'c2',
        ttlMs: 30000,
        resultType: 'complete',
        cacheScope: 'private',
        _meta: { k: 1 },
      },
    })
    assert.deepEqual(input, snapshot, 'input not modified')
  })

  test('legacy versions get no cacheScope', () => {
    const filter = filterFor(CALL, [['tools/list']], '2025-11-25')
    assert.ok(filter)
    const response = { jsonrpc: '2.0', id: 1, result: { tools: TOOLS, nextCursor: 'n' } }
    assert.deepEqual(filterJsonRpcResponse(filter, response, '2025-11-25'), {
      jsonrpc: '2.0',
      id: 1,
      result: { tools: [{ name: 'echo', description: 'e' }], nextCursor: 'n' },
    })
  })

  test('a caller who sees everything on 2026-07-28: same entries, private', () => {
    const filter = filterFor([...CALL, 'repo:admin'], [['tools/list']], '2026-07-28')
    assert.ok(filter)
    const out = filterJsonRpcResponse(filter, toolsResponse(), '2026-07-28') as { result: Record<string, unknown> }
    assert.deepEqual(out.result.tools, TOOLS)
    assert.equal(out.result.cacheScope, 'private')
  })

  test('a caller without the tools/call scopes sees no tools', () => {
    const filter = filterFor(['mcp:connect', 'mcp:tools:read', 'repo:admin'], [['tools/list']], '2025-11-25')
    assert.ok(filter)
    const out = filterJsonRpcResponse(filter, toolsResponse(), '2025-11-25') as { result: Record<string, unknown> }
    assert.deepEqual(out.result.tools, [])
    assert.equal(out.result.nextCursor, 'c2')
  })

  test('the allowed-tools claim filters on top of scopes', () => {
    const filter = filterFor([...CALL, 'repo:admin'], [['tools/list']], '2025-11-25', { mcp_allowed_tools: 'delete_repo echo' })
    assert.ok(filter)
    const out = filterJsonRpcResponse(filter, toolsResponse(), '2025-11-25') as { result: { tools: { name: string }[] } }
    assert.deepEqual(out.result.tools.map((t) => t.name), ['echo', 'delete_repo'])
  })

  test('prompts, resources and resource templates', () => {
    const scopes = ['mcp:connect', 'mcp:prompts', 'mcp:resources:read', 'files:read']
    const filter = filterFor(scopes, [['prompts/list'], ['resources/list'], ['resources/templates/list']], '2025-03-26')
    assert.ok(filter)
    const prompts = filterJsonRpcResponse(filter, { jsonrpc: '2.0', id: 1, result: { prompts: [{ name: 'secret' }, { name: 'open' }] } }, '2025-03-26')
    assert.deepEqual(prompts, { jsonrpc: '2.0', id: 1, result: { prompts: [{ name: 'open' }] } })
    const resources = filterJsonRpcResponse(
      filter,
      { jsonrpc: '2.0', id: 2, result: { resources: [{ uri: 'file:///etc/passwd' }, { uri: 'file:///home/a' }, { uri: 'file:///secret/x' }, { uri: 'file:///secret/public/y' }] } },
      '2025-03-26',
    )
    assert.deepEqual(resources, { jsonrpc: '2.0', id: 2, result: { resources: [{ uri: 'file:///home/a' }, { uri: 'file:///secret/public/y' }] } })
    const templates = filterJsonRpcResponse(
      filter,
      { jsonrpc: '2.0', id: 3, result: { resourceTemplates: [{ uriTemplate: 'file:///secret/{path}' }, { uriTemplate: 'file:///home/{path}' }] } },
      '2025-03-26',
    )
    assert.deepEqual(templates, { jsonrpc: '2.0', id: 3, result: { resourceTemplates: [{ uriTemplate: 'file:///home/{path}' }] } })
  })

  test('responses it must not touch', () => {
    const filter = filterFor(CALL, [['tools/list']], '2026-07-28')
    assert.ok(filter)
    const untouched: unknown[] = [
      toolsResponse(2), // another id
      toolsResponse('1'), // id of another type
      { jsonrpc: '2.0', id: 1, error: { code: -1, message: 'x' } },
      { jsonrpc: '2.0', id: 1, method: 'sampling/createMessage', result: { tools: TOOLS } },
      { jsonrpc: '2.0', id: 1, result: { tools: 'not a list' } },
      { jsonrpc: '2.0', id: 1, result: null },
      null,
      [toolsResponse()],
    ]
    for (const response of untouched) assert.equal(filterJsonRpcResponse(filter, response, '2026-07-28'), undefined, JSON.stringify(response))
  })

  test('nothing changed on a legacy version: undefined', () => {
    const filter = filterFor(CALL, [['tools/list']], '2025-11-25')
    assert.ok(filter)
    const response = { jsonrpc: '2.0', id: 1, result: { tools: [{ name: 'echo' }] } }
    assert.equal(filterJsonRpcResponse(filter, response, '2025-11-25'), undefined)
  })
})

describe('filterJsonBody', () => {
  const filter = filterFor(CALL, [['tools/list'], ['tools/call', 'echo'], ['prompts/list']], '2025-03-26')
  assert.ok(filter)

  test('one object', () => {
    const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 1, result: { tools: TOOLS } }))
    assert.deepEqual(JSON.parse(filterJsonBody(filter, body, '2025-03-26').toString()), {
      jsonrpc: '2.0',
      id: 1,
      result: { tools: [{ name: 'echo', description: 'e' }] },
    })
  })

  test('a batch response: only list responses change, order kept', () => {
    const batch = [
      { jsonrpc: '2.0', id: 2, result: { content: [] } },
      { jsonrpc: '2.0', id: 1, result: { tools: TOOLS } },
      { jsonrpc: '2.0', id: 3, result: { prompts: [{ name: 'secret' }] } },
    ]
    const out = JSON.parse(filterJsonBody(filter, Buffer.from(JSON.stringify(batch)), '2025-03-26').toString())
    assert.deepEqual(out, [batch[0], { jsonrpc: '2.0', id: 1, result: { tools: [{ name: 'echo', description: 'e' }] } }, { jsonrpc: '2.0', id: 3, result: { prompts: [] } }])
  })

  test('unchanged bodies are returned as the same buffer', () => {
    for (const text of ['{"jsonrpc":"2.0","id":2,"result":{}}', '[{"jsonrpc":"2.0","id":9,"result":{"tools":[]}}]']) {
      const body = Buffer.from(text)
      assert.equal(filterJsonBody(filter, body, '2025-03-26'), body)
    }
  })

  test('a body that is not JSON is refused, never passed on unfiltered', () => {
    assert.throws(() => filterJsonBody(filter, Buffer.from('tools: echo, delete_repo'), '2025-03-26'), /not JSON/)
  })
})
