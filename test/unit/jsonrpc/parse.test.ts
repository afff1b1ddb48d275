import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { GatewayError } from '../../../src/errors.js'
import { parseMcpRequest } from '../../../src/jsonrpc/parse.js'
import type { McpMessage } from '../../../src/jsonrpc/mcp-request.js'

type Headers = Record<string, string | string[] | undefined>

const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
}

function json(value: unknown): Buffer {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value))
}

/** A 2026-07-28 request with matching headers, unless overridden. */
function modern(method: string, params: Record<string, unknown> = {}, headers: Headers = {}) {
  const base: Headers = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': method }
  const name = params.name ?? params.uri
  if (typeof name === 'string') base['mcp-name'] = name
  return {
    body: json({ jsonrpc: '2.0', id: 9, method, params: { ...params, _meta: META } }),
    headers: { ...base, ...headers },
  }
}

function b64(value: string): string {
  return `=?base64?${Buffer.from(value, 'utf8').toString('base64')}?=`
}

interface Rejection {
  name: string
  body: Buffer
  headers?: Headers
  status?: number
  reason: string
  code: number
  id?: string | number | null
}

const rejections: Rejection[] = [
  { name: 'body not JSON', body: json('not json'), reason: 'invalid_body', code: -32700, id: null },
  { name: 'empty body', body: Buffer.alloc(0), reason: 'invalid_body', code: -32700, id: null },
  { name: 'truncated JSON', body: json('{"jsonrpc":"2.0","id":1,"method":"tools/list"'), reason: 'invalid_body', code: -32700 },
  { name: 'deeply nested JSON (arrays)', body: json('['.repeat(65) + ']'.repeat(65)), reason: 'invalid_body', code: -32700 },
  {
    name: 'deeply nested params',
    body: json(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":${'{"a":'.repeat(70)}1${'}'.repeat(70)}}}`),
    reason: 'invalid_body',
    code: -32700,
  },
  { name: 'huge unclosed nesting', body: json('{"a":'.repeat(100_000)), reason: 'invalid_body', code: -32700 },
  { name: 'JSON number', body: json('42'), reason: 'invalid_jsonrpc', code: -32600, id: null },
  { name: 'JSON null', body: json('null'), reason: 'invalid_jsonrpc', code: -32600 },
  { name: 'JSON string', body: json('"tools/call"'), reason: 'invalid_jsonrpc', code: -32600 },
  { name: 'no jsonrpc member', body: json({ id: 1, method: 'tools/list' }), reason: 'invalid_jsonrpc', code: -32600, id: 1 },
  { name: 'jsonrpc 1.0', body: json({ jsonrpc: '1.0', id: 1, method: 'tools/list' }), reason: 'invalid_jsonrpc', code: -32600 },
  { name: 'JSON-RPC without method', body: json({ jsonrpc: '2.0', id: 1 }), reason: 'invalid_jsonrpc', code: -32600, id: 1 },
  { name: 'method not a string', body: json({ jsonrpc: '2.0', id: 1, method: 5 }), reason: 'invalid_jsonrpc', code: -32600, id: 1 },
  { name: 'method an array', body: json({ jsonrpc: '2.0', id: 1, method: ['tools/call'] }), reason: 'invalid_jsonrpc', code: -32600 },
  { name: 'method empty', body: json({ jsonrpc: '2.0', id: 1, method: '' }), reason: 'invalid_jsonrpc', code: -32600 },
  { name: 'id null on a request', body: json({ jsonrpc: '2.0', id: null, method: 'ping' }), reason: 'invalid_jsonrpc', code: -32600, id: null },
  { name: 'id an object', body: json({ jsonrpc: '2.0', id: {}, method: 'ping' }), reason: 'invalid_jsonrpc', code: -32600 },
  { name: 'params an array', body: json({ jsonrpc: '2.0', id: 1, method: 'ping', params: [] }), reason: 'invalid_jsonrpc', code: -32602, id: 1 },
  { name: 'params a string', body: json({ jsonrpc: '2.0', id: 1, method: 'ping', params: 'x' }), reason: 'invalid_jsonrpc', code: -32602 },
  { name: 'tools/call without params', body: json({ jsonrpc: '2.0', id: 3, method: 'tools/call' }), reason: 'invalid_jsonrpc', code: -32602, id: 3 },
  {
    name: 'tools/call without params.name',
    body: json({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { arguments: {} } }),
    reason: 'invalid_jsonrpc',
    code: -32602,
    id: 3,
  },
  {
    name: 'tools/call with a numeric name',
    body: json({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 7 } }),
    reason: 'invalid_jsonrpc',
    code: -32602,
  },
  {
    name: 'tools/call with an empty name',
    body: json({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: '' } }),
    reason: 'invalid_jsonrpc',
    code: -32602,
  },
  { name: 'prompts/get without name', body: json({ jsonrpc: '2.0', id: 3, method: 'prompts/get', params: {} }), reason: 'invalid_jsonrpc', code: -32602 },
  { name: 'resources/read without uri', body: json({ jsonrpc: '2.0', id: 3, method: 'resources/read', params: {} }), reason: 'invalid_jsonrpc', code: -32602 },
  {
    name: 'resources/subscribe with a non-string uri',
    body: json({ jsonrpc: '2.0', id: 3, method: 'resources/subscribe', params: { uri: ['a'] } }),
    reason: 'invalid_jsonrpc',
    code: -32602,
  },
  { name: 'response without id', body: json({ jsonrpc: '2.0', result: {} }), reason: 'invalid_jsonrpc', code: -32600 },
  { name: 'result and error together', body: json({ jsonrpc: '2.0', id: 1, result: {}, error: {} }), reason: 'invalid_jsonrpc', code: -32600 },
  { name: 'empty batch', body: json([]), reason: 'invalid_jsonrpc', code: -32600, id: null },
  {
    name: 'batch element not an object',
    body: json([{ jsonrpc: '2.0', id: 1, method: 'tools/list' }, 5]),
    reason: 'invalid_jsonrpc',
    code: -32600,
    id: null,
  },
  {
    name: 'batch with tools/call missing params.name',
    body: json([{ jsonrpc: '2.0', id: 1, method: 'tools/list' }, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: {} }]),
    reason: 'invalid_jsonrpc',
    code: -32602,
    id: null,
  },
  {
    name: 'batch under 2025-06-18 (batches removed)',
    body: json([{ jsonrpc: '2.0', id: 1, method: 'tools/list' }]),
    headers: { 'mcp-protocol-version': '2025-06-18' },
    reason: 'invalid_jsonrpc',
    code: -32600,
  },
  {
    name: 'batch under 2026-07-28',
    body: json([{ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: META } }]),
    headers: { 'mcp-protocol-version': '2026-07-28' },
    reason: 'invalid_jsonrpc',
    code: -32600,
  },
  // 2026-07-28 header checks (streamable-http §Server Validation).
  { name: 'forged Mcp-Name', ...modern('tools/call', { name: 'read_file' }, { 'mcp-name': 'delete_repo' }), reason: 'header_mismatch', code: -32020, id: 9 },
  { name: 'Mcp-Name missing', ...modern('tools/call', { name: 'read_file' }, { 'mcp-name': undefined }), reason: 'header_mismatch', code: -32020 },
  { name: 'Mcp-Name sent twice', ...modern('tools/call', { name: 'a' }, { 'mcp-name': ['a', 'a'] }), reason: 'header_mismatch', code: -32020 },
  { name: 'Mcp-Name of another prompt', ...modern('prompts/get', { name: 'p1' }, { 'mcp-name': 'p2' }), reason: 'header_mismatch', code: -32020 },
  {
    name: 'Mcp-Name of another resource',
    ...modern('resources/read', { uri: 'file:///a' }, { 'mcp-name': 'file:///b' }),
    reason: 'header_mismatch',
    code: -32020,
  },
  {
    name: 'base64 Mcp-Name of another value',
    ...modern('tools/call', { name: 'héllo' }, { 'mcp-name': b64('hello') }),
    reason: 'header_mismatch',
    code: -32020,
  },
  {
    name: 'non-ASCII name sent plain',
    ...modern('tools/call', { name: 'héllo' }, { 'mcp-name': Buffer.from('héllo', 'utf8').toString('latin1') }),
    reason: 'header_mismatch',
    code: -32020,
  },
  {
    name: 'Mcp-Name with broken base64',
    ...modern('tools/call', { name: 'x' }, { 'mcp-name': '=?base64?@@@@?=' }),
    reason: 'header_mismatch',
    code: -32020,
  },
  {
    name: 'Mcp-Name with base64 of invalid UTF-8',
    ...modern('tools/call', { name: 'x' }, { 'mcp-name': `=?base64?${Buffer.from([0xff, 0xfe]).toString('base64')}?=` }),
    reason: 'header_mismatch',
    code: -32020,
  },
  {
    name: 'Mcp-Name with upper-case markers (a plain value, not decoded)',
    ...modern('tools/call', { name: 'x' }, { 'mcp-name': `=?BASE64?${Buffer.from('x').toString('base64')}?=` }),
    reason: 'header_mismatch',
    code: -32020,
  },
  { name: 'Mcp-Method missing', ...modern('tools/list', {}, { 'mcp-method': undefined }), reason: 'header_mismatch', code: -32020 },
  { name: 'Mcp-Method differs in case', ...modern('tools/list', {}, { 'mcp-method': 'TOOLS/LIST' }), reason: 'header_mismatch', code: -32020 },
  { name: 'Mcp-Method of another method', ...modern('tools/call', { name: 'a' }, { 'mcp-method': 'tools/list' }), reason: 'header_mismatch', code: -32020 },
  { name: 'MCP-Protocol-Version missing with _meta', ...modern('tools/list', {}, { 'mcp-protocol-version': undefined }), reason: 'header_mismatch', code: -32020 },
  { name: 'MCP-Protocol-Version differs from _meta', ...modern('tools/list', {}, { 'mcp-protocol-version': '2025-11-25' }), reason: 'header_mismatch', code: -32020 },
  // basic/index §Statelessness: a required `_meta` field missing is invalid params, not a header mismatch.
  {
    name: 'header says 2026-07-28, body has no _meta',
    body: json({ jsonrpc: '2.0', id: 4, method: 'tools/list' }),
    headers: { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' },
    reason: 'invalid_jsonrpc',
    code: -32602,
    id: 4,
  },
  {
    name: 'header says 2026-07-28, _meta without the protocol version',
    body: json({ jsonrpc: '2.0', id: 4, method: 'tools/list', params: { _meta: { 'io.modelcontextprotocol/clientCapabilities': {} } } }),
    headers: { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' },
    reason: 'invalid_jsonrpc',
    code: -32602,
    id: 4,
  },
  {
    name: 'client response under 2026-07-28 (no _meta)',
    body: json({ jsonrpc: '2.0', id: 4, result: {} }),
    headers: { 'mcp-protocol-version': '2026-07-28' },
    reason: 'invalid_jsonrpc',
    code: -32600,
  },
  {
    name: 'unknown version in _meta and header',
    body: json({ jsonrpc: '2.0', id: 5, method: 'tools/list', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2099-01-01' } } }),
    headers: { 'mcp-protocol-version': '2099-01-01', 'mcp-method': 'tools/list' },
    reason: 'unsupported_protocol_version',
    code: -32022,
    id: 5,
  },
  {
    name: 'legacy version in _meta',
    body: json({ jsonrpc: '2.0', id: 5, method: 'tools/list', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2025-11-25' } } }),
    headers: { 'mcp-protocol-version': '2025-11-25' },
    reason: 'unsupported_protocol_version',
    code: -32022,
  },
  {
    name: 'unknown MCP-Protocol-Version on a legacy request',
    body: json({ jsonrpc: '2.0', id: 6, method: 'tools/list' }),
    headers: { 'mcp-protocol-version': '2024-11-05' },
    reason: 'unsupported_protocol_version',
    code: -32022,
    id: 6,
  },
  {
    name: 'MCP-Protocol-Version sent twice on a legacy request',
    body: json({ jsonrpc: '2.0', id: 6, method: 'tools/list' }),
    headers: { 'mcp-protocol-version': ['2025-06-18', '2025-11-25'] },
    reason: 'unsupported_protocol_version',
    code: -32022,
  },
]

describe('an unsupported version is -32022 with data listing only the versions served', () => {
  const rows: { name: string; body: unknown; headers: Headers; versions?: ('2025-11-25' | '2026-07-28')[]; supported: string[]; requested?: string }[] = [
    {
      name: 'unknown version in _meta',
      body: { jsonrpc: '2.0', id: 5, method: 'tools/list', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2099-01-01' } } },
      headers: { 'mcp-protocol-version': '2099-01-01', 'mcp-method': 'tools/list' },
      supported: ['2025-03-26', '2025-06-18', '2025-11-25', '2026-07-28'],
      requested: '2099-01-01',
    },
    {
      name: 'a known version the backend does not speak',
      body: { jsonrpc: '2.0', id: 5, method: 'tools/list', params: { _meta: META } },
      headers: { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' },
      versions: ['2025-11-25'],
      supported: ['2025-11-25'],
      requested: '2026-07-28',
    },
    {
      name: 'a legacy header version the backend does not speak',
      body: { jsonrpc: '2.0', id: 5, method: 'tools/list' },
      headers: { 'mcp-protocol-version': '2025-11-25' },
      versions: ['2026-07-28'],
      supported: ['2026-07-28'],
      requested: '2025-11-25',
    },
    {
      name: 'a repeated header: no requested value to echo',
      body: { jsonrpc: '2.0', id: 5, method: 'tools/list' },
      headers: { 'mcp-protocol-version': ['2025-06-18', '2025-11-25'] },
      versions: ['2026-07-28'],
      supported: ['2026-07-28'],
    },
  ]
  for (const row of rows) {
    test(row.name, () => {
      assert.throws(
        () => parseMcpRequest({ body: json(row.body), headers: row.headers, ...(row.versions === undefined ? {} : { versions: row.versions }) }),
        (error: unknown) => {
          assert.ok(error instanceof GatewayError)
          assert.equal(error.reason, 'unsupported_protocol_version')
          assert.equal(error.jsonRpcCode, -32022)
          assert.deepEqual(error.jsonRpcData, row.requested === undefined ? { supported: row.supported } : { supported: row.supported, requested: row.requested })
          assert.equal(error.description, `Unsupported MCP protocol version; supported: ${row.supported.join(', ')}`)
          return true
        },
      )
    })
  }

  test('initialize is not refused for its proposal: the backend negotiates', () => {
    const body = json({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18' } })
    assert.equal(parseMcpRequest({ body, headers: {}, versions: ['2026-07-28'] }).version, '2025-06-18')
  })
})

describe('methods 2026-07-28 removed are left to the backend', () => {
  for (const method of ['resources/subscribe', 'resources/unsubscribe']) {
    test(`${method} without params.uri passes under 2026-07-28 (the backend answers -32601)`, () => {
      const request = parseMcpRequest(modern(method))
      assert.deepEqual(request.messages, [{ kind: 'request', method, id: 9, target: undefined }])
    })
    test(`${method} with params.uri still names its target under 2026-07-28, so resource rules apply`, () => {
      const request = parseMcpRequest(modern(method, { uri: 'file:///secret' }))
      assert.equal(request.messages[0]?.target, 'file:///secret')
    })
    test(`${method} without params.uri is still -32602 under 2025-11-25, where it exists`, () => {
      const body = json({ jsonrpc: '2.0', id: 3, method, params: {} })
      assert.throws(() => parseMcpRequest({ body, headers: { 'mcp-protocol-version': '2025-11-25' } }), { jsonRpcCode: -32602, jsonRpcId: 3 })
    })
  }
  test('ping (removed in 2026-07-28) passes to the backend', () => {
    assert.equal(parseMcpRequest(modern('ping')).messages[0]?.method, 'ping')
  })
})

describe('parseMcpRequest rejects bad input', () => {
  for (const row of rejections) {
    test(row.name, () => {
      assert.throws(
        () => parseMcpRequest({ body: row.body, headers: row.headers ?? {} }),
        (error: unknown) => {
          assert.ok(error instanceof GatewayError)
          assert.equal(error.status, row.status ?? 400)
          assert.equal(error.reason, row.reason)
          assert.equal(error.jsonRpcCode, row.code)
          if (row.id !== undefined) assert.equal(error.jsonRpcId, row.id)
          // Fixed, safe text: never `=`, never a header value or body content.
          assert.doesNotMatch(error.description, /=/)
          for (const secret of ['delete_repo', 'read_file', '2099', '2024-11-05', 'p2', 'file:///b', 'not json']) {
            assert.ok(!error.description.includes(secret), `description echoes ${secret}`)
          }
          return true
        },
      )
    })
  }
})

test('tools/call without params.name says what is missing', () => {
  assert.throws(
    () => parseMcpRequest({ body: json({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: {} }), headers: {} }),
    { description: 'tools/call needs params.name as a non-empty string' },
  )
})

test('nesting up to maxDepth is accepted, and maxDepth is configurable', () => {
  const nested = (depth: number) => json('['.repeat(depth - 1) + '{"jsonrpc":"2.0","id":1,"method":"ping"}' + ']'.repeat(depth - 1))
  // depth 64 (63 arrays + the message object) is a batch-in-batch: rejected for shape, not depth
  assert.throws(() => parseMcpRequest({ body: nested(64), headers: {} }), { reason: 'invalid_jsonrpc' })
  assert.throws(() => parseMcpRequest({ body: nested(65), headers: {} }), { reason: 'invalid_body' })
  const params = (depth: number) =>
    json(`{"jsonrpc":"2.0","id":1,"method":"ping","params":{"a":${'['.repeat(depth - 2)}${']'.repeat(depth - 2)}}}`)
  assert.equal(parseMcpRequest({ body: params(64), headers: {} }).messages.length, 1)
  assert.throws(() => parseMcpRequest({ body: params(65), headers: {} }), { reason: 'invalid_body' })
  assert.throws(() => parseMcpRequest({ body: params(10), headers: {}, maxDepth: 8 }), { reason: 'invalid_body' })
})

test('brackets inside strings do not count towards depth', () => {
  const text = '[{'.repeat(500) + '\\"[' + '\\\\'
  const body = json({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x', arguments: { text } } })
  assert.equal(parseMcpRequest({ body, headers: {} }).messages[0]?.target, 'x')
})

test('a large flat body parses', () => {
  const body = json({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x', arguments: { blob: 'a'.repeat(2_000_000) } } })
  assert.equal(parseMcpRequest({ body, headers: {} }).messages[0]?.target, 'x')
})

interface Detection {
  name: string
  body: unknown
  headers?: Headers
  version: string
  batch?: boolean
  messages: McpMessage[]
}

const detections: Detection[] = [
  {
    name: 'batch is 2025-03-26, every message extracted',
    body: [
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'a' } },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 'x', result: {} },
      { jsonrpc: '2.0', id: null, error: { code: 1, message: 'm' } },
      { jsonrpc: '2.0', id: 2, method: 'resources/read', params: { uri: 'file:///r' } },
    ],
    version: '2025-03-26',
    batch: true,
    messages: [
      { kind: 'request', method: 'tools/call', id: 1, target: 'a' },
      { kind: 'notification', method: 'notifications/initialized', id: undefined, target: undefined },
      { kind: 'response', method: undefined, id: 'x', target: undefined },
      { kind: 'response', method: undefined, id: undefined, target: undefined },
      { kind: 'request', method: 'resources/read', id: 2, target: 'file:///r' },
    ],
  },
  {
    name: 'batch with the 2025-03-26 header',
    body: [{ jsonrpc: '2.0', id: 1, method: 'tools/list' }],
    headers: { 'mcp-protocol-version': '2025-03-26' },
    version: '2025-03-26',
    batch: true,
    messages: [{ kind: 'request', method: 'tools/list', id: 1, target: undefined }],
  },
  ...(['2025-03-26', '2025-06-18', '2025-11-25'] as const).map((v) => ({
    name: `initialize proposing ${v}`,
    body: { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: v, capabilities: {}, clientInfo: { name: 'c', version: '1' } } },
    version: v,
    messages: [{ kind: 'request' as const, method: 'initialize', id: 0, target: undefined }],
  })),
  {
    name: 'initialize proposing an unknown version is legacy (the backend negotiates)',
    body: { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2024-11-05' } },
    version: '2025-03-26',
    messages: [{ kind: 'request', method: 'initialize', id: 0, target: undefined }],
  },
  {
    name: 'initialize ignores the header',
    body: { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25' } },
    headers: { 'mcp-protocol-version': 'garbage' },
    version: '2025-11-25',
    messages: [{ kind: 'request', method: 'initialize', id: 0, target: undefined }],
  },
  {
    name: 'no header is 2025-03-26',
    body: { jsonrpc: '2.0', id: 1, method: 'prompts/get', params: { name: 'p' } },
    version: '2025-03-26',
    messages: [{ kind: 'request', method: 'prompts/get', id: 1, target: 'p' }],
  },
  ...(['2025-06-18', '2025-11-25'] as const).map((v) => ({
    name: `legacy header ${v}`,
    body: { jsonrpc: '2.0', id: 'a', method: 'resources/subscribe', params: { uri: 'file:///x' } },
    headers: { 'mcp-protocol-version': v },
    version: v,
    messages: [{ kind: 'request' as const, method: 'resources/subscribe', id: 'a', target: 'file:///x' }],
  })),
  {
    name: 'legacy client response (answer to sampling)',
    body: { jsonrpc: '2.0', id: 3, result: { content: [] } },
    headers: { 'mcp-protocol-version': '2025-11-25' },
    version: '2025-11-25',
    messages: [{ kind: 'response', method: undefined, id: 3, target: undefined }],
  },
  {
    name: 'legacy traffic ignores a forged Mcp-Name (authorized from the body)',
    body: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'delete_repo' } },
    headers: { 'mcp-protocol-version': '2025-11-25', 'mcp-name': 'read_file', 'mcp-method': 'tools/list' },
    version: '2025-11-25',
    messages: [{ kind: 'request', method: 'tools/call', id: 1, target: 'delete_repo' }],
  },
  {
    name: 'legacy notification',
    body: { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } },
    headers: { 'mcp-protocol-version': '2025-06-18' },
    version: '2025-06-18',
    messages: [{ kind: 'notification', method: 'notifications/cancelled', id: undefined, target: undefined }],
  },
]

describe('parseMcpRequest detects the version and extracts messages', () => {
  for (const row of detections) {
    test(row.name, () => {
      const request = parseMcpRequest({ body: json(row.body), headers: row.headers ?? {} })
      assert.equal(request.version, row.version)
      assert.equal(request.batch, row.batch ?? false)
      assert.deepEqual(request.messages, row.messages)
      assert.deepEqual(request.body, row.body)
    })
  }
})

interface ModernRow {
  name: string
  method: string
  params?: Record<string, unknown>
  headers?: Headers
  target?: string
  notification?: boolean
}

const modernAccepted: ModernRow[] = [
  { name: 'server/discover', method: 'server/discover' },
  { name: 'tools/list', method: 'tools/list' },
  { name: 'tools/call with plain Mcp-Name', method: 'tools/call', params: { name: 'read_file' }, target: 'read_file' },
  {
    name: 'tools/call with base64 Mcp-Name decoded and matched',
    method: 'tools/call',
    params: { name: 'héllo wörld' },
    headers: { 'mcp-name': b64('héllo wörld') },
    target: 'héllo wörld',
  },
  {
    name: 'leading space encoded',
    method: 'tools/call',
    params: { name: ' lead' },
    headers: { 'mcp-name': b64(' lead') },
    target: ' lead',
  },
  {
    name: 'a name that looks like the sentinel, encoded',
    method: 'tools/call',
    params: { name: '=?base64?abc?=' },
    headers: { 'mcp-name': b64('=?base64?abc?=') },
    target: '=?base64?abc?=',
  },
  { name: 'plain ASCII with inner spaces', method: 'prompts/get', params: { name: 'a b' }, target: 'a b' },
  { name: 'resources/read', method: 'resources/read', params: { uri: 'file:///etc/x' }, target: 'file:///etc/x' },
  {
    name: 'base64 resource URI',
    method: 'resources/read',
    params: { uri: 'file:///ü' },
    headers: { 'mcp-name': b64('file:///ü') },
    target: 'file:///ü',
  },
  { name: 'Mcp-Name as a one-element array', method: 'tools/call', params: { name: 'a' }, headers: { 'mcp-name': ['a'] }, target: 'a' },
  { name: 'tasks/get without Mcp-Name (extension header optional)', method: 'tasks/get', params: { taskId: 't1' } },
  { name: 'tasks/get with matching Mcp-Name', method: 'tasks/get', params: { taskId: 't1' }, headers: { 'mcp-name': 't1' } },
  { name: 'Mcp-Name on a method without a name is ignored', method: 'tools/list', headers: { 'mcp-name': 'anything' } },
  { name: 'notification without Mcp-Method', method: 'notifications/progress', headers: { 'mcp-method': undefined }, notification: true },
]

describe('parseMcpRequest accepts 2026-07-28 requests whose headers match', () => {
  for (const row of modernAccepted) {
    test(row.name, () => {
      const params = { ...row.params, _meta: META }
      const headers: Headers = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': row.method }
      if (row.target !== undefined) headers['mcp-name'] = row.target
      const message = row.notification ? { jsonrpc: '2.0', method: row.method, params } : { jsonrpc: '2.0', id: 9, method: row.method, params }
      const request = parseMcpRequest({ body: json(message), headers: { ...headers, ...row.headers } })
      assert.equal(request.version, '2026-07-28')
      assert.equal(request.batch, false)
      assert.deepEqual(request.messages, [
        { kind: row.notification ? 'notification' : 'request', method: row.method, id: row.notification ? undefined : 9, target: row.target },
      ])
    })
  }
})

test('2026-07-28 rejects a tasks/get whose Mcp-Name is another task', () => {
  const body = json({ jsonrpc: '2.0', id: 1, method: 'tasks/get', params: { taskId: 't1', _meta: META } })
  const headers = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tasks/get', 'mcp-name': 't2' }
  assert.throws(() => parseMcpRequest({ body, headers }), { reason: 'header_mismatch', jsonRpcCode: -32020 })
})

test('2026-07-28 checks a notification Mcp-Method when sent', () => {
  const body = json({ jsonrpc: '2.0', method: 'notifications/progress', params: { _meta: META } })
  const headers = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call' }
  assert.throws(() => parseMcpRequest({ body, headers }), { reason: 'header_mismatch' })
})

test('missing params.name on a modern tools/call is -32602, not a header mismatch', () => {
  const body = json({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { _meta: META } })
  const headers = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'x' }
  assert.throws(() => parseMcpRequest({ body, headers }), { jsonRpcCode: -32602 })
})

describe('bodies two parsers could read differently (issue 18, item 4)', () => {
  const refusals: { name: string; body: Buffer; reason: string; code: number }[] = [
    {
      name: 'tools/call naming the tool twice',
      body: Buffer.from('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_repo","name":"echo","arguments":{}}}'),
      reason: 'invalid_jsonrpc',
      code: -32600,
    },
    {
      name: 'a repeated name in the arguments',
      body: Buffer.from('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"a","text":"b"}}}'),
      reason: 'invalid_jsonrpc',
      code: -32600,
    },
    {
      name: 'a batch message with a repeated method',
      body: Buffer.from('[{"jsonrpc":"2.0","id":1,"method":"tools/call","method":"ping","params":{"name":"echo"}}]'),
      reason: 'invalid_jsonrpc',
      code: -32600,
    },
    {
      name: 'invalid UTF-8 in a string (a lone continuation byte)',
      body: Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo'), Buffer.from([0x80]), Buffer.from('"}}')]),
      reason: 'invalid_body',
      code: -32700,
    },
    {
      name: 'an overlong encoding of "/"',
      body: Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:'), Buffer.from([0xc0, 0xaf]), Buffer.from('etc"}}')]),
      reason: 'invalid_body',
      code: -32700,
    },
    {
      name: 'a UTF-16 surrogate encoded in UTF-8',
      body: Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":1,"method":"ping","x":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]),
      reason: 'invalid_body',
      code: -32700,
    },
  ]
  for (const row of refusals) {
    test(row.name, () => {
      assert.throws(
        () => parseMcpRequest({ body: row.body, headers: {} }),
        (error: unknown) => {
          assert.ok(error instanceof GatewayError)
          assert.equal(error.status, 400)
          assert.equal(error.reason, row.reason)
          assert.equal(error.jsonRpcCode, row.code)
          return true
        },
      )
    })
  }

  test('valid multi-byte UTF-8 passes', () => {
    const request = parseMcpRequest({
      body: Buffer.from('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"échø","arguments":{"t":"日本 🚀"}}}'),
      headers: {},
    })
    assert.equal(request.messages[0]?.target, 'échø')
  })
})
