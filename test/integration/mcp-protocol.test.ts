import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { stringify } from 'yaml'
import { loadConfig } from '../../src/config/load.js'
import { startGateway, type RunningGateway } from '../../src/server/http.js'
import { startRawBackend, type RawBackend } from '../support/raw-backend.js'
import { readBody } from '../support/record-request.js'
import { accessTokenClaims, createTestKeys, mintJwt, type TestKeys } from '../support/tokens.js'

/**
 * Issue 3 on the wire, per protocol version: 2026-07-28 mirrored headers, 2025-03-26 batches,
 * list filtering in JSON and SSE, and bad input that must never reach the backend.
 */

const ISSUER = 'https://as.test.example'
const RESOURCE = 'https://mcp.test.example/mcp'
const TOOLS = [
  { name: 'echo', inputSchema: { type: 'object' } },
  { name: 'add', inputSchema: { type: 'object' } },
  { name: 'delete_repo', inputSchema: { type: 'object' } },
]

let keys: TestKeys
let backend: RawBackend
let gateway: RunningGateway
let mcpUrl: string
let configDir: string
let jwksFile: string

/** A backend that answers JSON-RPC itself: JSON, or SSE (with a keepalive comment) when asked. */
async function answer(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) {
  if (req.method !== 'POST') {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.end(': open\n\n')
    return
  }
  const body = JSON.parse(await readBody(req)) as { id: number; method: string } | { id: number; method: string }[]
  const one = (m: { id: number; method: string }) => {
    if (m.method === 'tools/list') return { jsonrpc: '2.0', id: m.id, result: { tools: TOOLS, nextCursor: 'c2', ttlMs: 60000 } }
    return { jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: `did ${m.method}` }] } }
  }
  const result = Array.isArray(body) ? body.map(one) : one(body)
  if (req.headers['x-test-broken'] === '1') {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(`tools: ${TOOLS.map((t) => t.name).join(', ')}`)
    return
  }
  if (req.headers['x-test-pretty'] === '1') {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify(result, null, 2))
    return
  }
  if (req.headers['x-test-sse'] === '1') {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.write(': keepalive\n\n')
    res.end(`event: message\r\ndata: ${JSON.stringify(result)}\r\n\r\n`)
    return
  }
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end(JSON.stringify(result))
}

before(async () => {
  keys = await createTestKeys()
  backend = await startRawBackend(answer)
  const dir = mkdtempSync(join(tmpdir(), 'mcp-gw-proto-'))
  configDir = dir
  jwksFile = await keys.writeJwksFile(dir)
  const file = join(dir, 'gateway.yaml')
  writeFileSync(
    file,
    stringify({
      listen: { host: '127.0.0.1', port: 0 },
      resource: { canonicalUri: RESOURCE },
      authorizationServers: [{ issuer: ISSUER, jwksFile }],
      backend: { url: backend.origin },
      scopes: {
        required: ['mcp'],
        tools: { add: ['math'], delete_repo: ['repo:admin'] },
        implies: { 'math:admin': ['math'] },
        filterLists: true,
      },
    }),
  )
  gateway = await startGateway(await loadConfig({ env: {}, argv: ['--config', file] }))
  mcpUrl = `${gateway.url}/mcp`
})
after(async () => {
  await gateway.close()
  await backend.close()
})

const token = (scope: string, extra: Record<string, unknown> = {}) =>
  mintJwt({ key: keys.rsa, claims: { ...accessTokenClaims({ issuer: ISSUER, audience: RESOURCE, scope }), ...extra } })

const META = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} }

async function post(body: unknown, headers: Record<string, string>, scope = 'mcp', extraClaims = {}) {
  const seen = backend.requests.length
  const response = await fetch(mcpUrl, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${await token(scope, extraClaims)}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await response.text()
  return { response, text, reachedBackend: backend.requests.length > seen }
}

const modern = (method: string, params: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id: 7,
  method,
  params: { ...params, _meta: META },
})
const modernHeaders = (method: string, name?: string): Record<string, string> => ({
  'mcp-protocol-version': '2026-07-28',
  'mcp-method': method,
  ...(name === undefined ? {} : { 'mcp-name': name }),
})

describe('2026-07-28: Mcp-Method and Mcp-Name checked against the body', () => {
  test('matching headers pass', async () => {
    const r = await post(modern('tools/call', { name: 'echo' }), modernHeaders('tools/call', 'echo'))
    assert.equal(r.response.status, 200)
    assert.equal(r.reachedBackend, true)
  })

  test('a base64-encoded Mcp-Name is decoded before comparing', async () => {
    const name = ' echo'
    const body = modern('tools/call', { name })
    const encoded = `=?base64?${Buffer.from(name).toString('base64')}?=`
    const r = await post(body, modernHeaders('tools/call', encoded))
    assert.equal(r.response.status, 200)
  })

  const mismatches: [string, unknown, Record<string, string>][] = [
    ['forged Mcp-Name (header names an allowed tool, body another)', modern('tools/call', { name: 'delete_repo' }), modernHeaders('tools/call', 'echo')],
    ['Mcp-Method differs from the body', modern('tools/call', { name: 'echo' }), modernHeaders('tools/list', 'echo')],
    ['Mcp-Name missing on tools/call', modern('tools/call', { name: 'echo' }), modernHeaders('tools/call')],
    ['Mcp-Method with another case', modern('tools/list'), modernHeaders('TOOLS/LIST')],
  ]
  for (const [name, body, headers] of mismatches) {
    test(`${name}: 400 with JSON-RPC -32020, backend untouched`, async () => {
      const r = await post(body, headers, 'mcp repo:admin')
      assert.equal(r.response.status, 400)
      const json = JSON.parse(r.text) as { error: { code: number; message: string } }
      assert.equal(json.error.code, -32020)
      assert.equal(r.reachedBackend, false)
    })
  }

  test('header says 2026-07-28 but the body has no _meta: 400 with -32602 (invalid params), backend untouched', async () => {
    const r = await post({ jsonrpc: '2.0', id: 7, method: 'tools/list' }, modernHeaders('tools/list'))
    assert.equal(r.response.status, 400)
    assert.equal((JSON.parse(r.text) as { error: { code: number } }).error.code, -32602)
    assert.equal(r.reachedBackend, false)
  })

  test('an unsupported version in _meta: 400 with -32022 and data {supported, requested}', async () => {
    const body = { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { ...META, 'io.modelcontextprotocol/protocolVersion': '2099-01-01' } } }
    const r = await post(body, { ...modernHeaders('tools/list'), 'mcp-protocol-version': '2099-01-01' })
    assert.equal(r.response.status, 400)
    assert.deepEqual((JSON.parse(r.text) as { error: unknown }).error, {
      code: -32022,
      message: 'Unsupported MCP protocol version; supported: 2025-03-26, 2025-06-18, 2025-11-25, 2026-07-28',
      data: { supported: ['2025-03-26', '2025-06-18', '2025-11-25', '2026-07-28'], requested: '2099-01-01' },
    })
    assert.equal(r.reachedBackend, false)
  })

  test('-32022 lists only the versions backend.protocolVersions names', async () => {
    const file = join(configDir, 'modern-only.yaml')
    writeFileSync(
      file,
      stringify({
        listen: { host: '127.0.0.1', port: 0 },
        resource: { canonicalUri: RESOURCE },
        authorizationServers: [{ issuer: ISSUER, jwksFile }],
        backend: { url: backend.origin, protocolVersions: ['2026-07-28'] },
      }),
    )
    const modernOnly = await startGateway(await loadConfig({ env: {}, argv: ['--config', file] }))
    try {
      const seen = backend.requests.length
      const response = await fetch(`${modernOnly.url}/mcp`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await token('mcp')}`, 'content-type': 'application/json', 'mcp-protocol-version': '2025-11-25' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' }),
      })
      assert.equal(response.status, 400)
      assert.deepEqual(((await response.json()) as { error: { data: unknown } }).error.data, { supported: ['2026-07-28'], requested: '2025-11-25' })
      assert.equal(backend.requests.length, seen)
    } finally {
      await modernOnly.close()
    }
  })

  test('resources/subscribe (removed in 2026-07-28) without params.uri goes to the backend to answer', async () => {
    const r = await post(modern('resources/subscribe'), modernHeaders('resources/subscribe'))
    assert.equal(r.reachedBackend, true)
    assert.equal(r.response.status, 200)
  })

  test('GET and DELETE are 405 with Allow for 2026-07-28, allowed for 2025-11-25', async () => {
    const auth = { authorization: `Bearer ${await token('mcp')}` }
    for (const method of ['GET', 'DELETE']) {
      const modernResponse = await fetch(mcpUrl, { method, headers: { ...auth, 'mcp-protocol-version': '2026-07-28' } })
      assert.equal(modernResponse.status, 405, method)
      // RFC 9110 §15.5.6: a 405 lists what the resource accepts, here for this protocol version.
      assert.equal(modernResponse.headers.get('allow'), 'POST, OPTIONS', method)
      await modernResponse.body?.cancel()
    }
    const legacy = await fetch(mcpUrl, { headers: { ...auth, 'mcp-protocol-version': '2025-11-25', accept: 'text/event-stream' } })
    assert.equal(legacy.status, 200)
    await legacy.body?.cancel()
  })

  test('tools/list is filtered and marked cacheScope private, keeping order, cursor and ttlMs', async () => {
    const r = await post(modern('tools/list'), modernHeaders('tools/list'), 'mcp math')
    assert.equal(r.response.status, 200)
    const { result } = JSON.parse(r.text) as { result: Record<string, unknown> }
    assert.deepEqual((result.tools as { name: string }[]).map((t) => t.name), ['echo', 'add'])
    assert.equal(result.nextCursor, 'c2')
    assert.equal(result.ttlMs, 60000)
    assert.equal(result.cacheScope, 'private')
  })
})

describe('2025-03-26 batches: every message authorized, fail closed', () => {
  test('a batch mixing allowed and denied calls is 403 naming what the batch needs', async () => {
    const batch = [
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo' } },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'delete_repo' } },
    ]
    const r = await post(batch, {})
    assert.equal(r.response.status, 403)
    const challenge = r.response.headers.get('www-authenticate') ?? ''
    assert.match(challenge, /^Bearer error="insufficient_scope", scope="[^"]*repo:admin[^"]*", resource_metadata="/)
    assert.doesNotMatch(challenge, /offline_access/)
    assert.equal(r.reachedBackend, false)
  })

  test('an allowed batch is forwarded and answered as a batch', async () => {
    const batch = [
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo' } },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'add' } },
    ]
    const r = await post(batch, {}, 'mcp math:admin')
    assert.equal(r.response.status, 200, 'math:admin implies math')
    assert.equal((JSON.parse(r.text) as unknown[]).length, 2)
  })

  test('a batch under a later protocol version is refused', async () => {
    const r = await post([{ jsonrpc: '2.0', id: 1, method: 'tools/list' }], { 'mcp-protocol-version': '2025-11-25' })
    assert.equal(r.response.status, 400)
    assert.equal(r.reachedBackend, false)
  })
})

describe('list filtering and the allowed-tools claim (2025-11-25)', () => {
  const legacy = { 'mcp-protocol-version': '2025-11-25' }
  const list = { jsonrpc: '2.0', id: 3, method: 'tools/list' }

  test('JSON: tools the caller may not call are dropped; no cacheScope before 2026-07-28', async () => {
    const r = await post(list, legacy, 'mcp')
    const { result } = JSON.parse(r.text) as { result: Record<string, unknown> }
    assert.deepEqual((result.tools as { name: string }[]).map((t) => t.name), ['echo'])
    assert.equal(result.nextCursor, 'c2')
    assert.equal('cacheScope' in result, false)
  })

  test('SSE: the list event is rewritten, the keepalive comment passes', async () => {
    const r = await post(list, { ...legacy, 'x-test-sse': '1' }, 'mcp repo:admin')
    assert.equal(r.response.headers.get('content-type'), 'text/event-stream')
    assert.ok(r.text.startsWith(': keepalive\n\n'))
    const data = /data: (.*)/.exec(r.text)?.[1] as string
    const names = (JSON.parse(data) as { result: { tools: { name: string }[] } }).result.tools.map((t) => t.name)
    assert.deepEqual(names, ['echo', 'delete_repo'])
  })

  test('a caller who may use everything gets the backend bytes untouched', async () => {
    const r = await post(list, legacy, 'mcp math repo:admin')
    assert.equal(r.text, JSON.stringify({ jsonrpc: '2.0', id: 3, result: { tools: TOOLS, nextCursor: 'c2', ttlMs: 60000 } }))
  })

  test('JSON written with whitespace: filtered the same, the kept bytes as the backend wrote them', async () => {
    const r = await post(list, { ...legacy, 'x-test-pretty': '1' }, 'mcp repo:admin')
    const { result } = JSON.parse(r.text) as { result: Record<string, unknown> }
    assert.deepEqual((result.tools as { name: string }[]).map((t) => t.name), ['echo', 'delete_repo'])
    assert.equal(result.nextCursor, 'c2')
    assert.ok(r.text.includes(JSON.stringify(TOOLS[0], null, 2).replaceAll('\n', '\n      ')), r.text)
  })

  test('a list answer that is not JSON is a 502, never passed on unfiltered', async () => {
    const r = await post(list, { ...legacy, 'x-test-broken': '1' }, 'mcp')
    assert.equal(r.response.status, 502)
    assert.equal((JSON.parse(r.text) as { error: string }).error, 'upstream_unreachable')
    assert.ok(!r.text.includes('delete_repo'), r.text)
  })

  test('mcp_allowed_tools narrows calls and lists on top of scopes', async () => {
    const claims = { mcp_allowed_tools: ['echo'] }
    const listed = await post(list, legacy, 'mcp math', claims)
    const names = (JSON.parse(listed.text) as { result: { tools: { name: string }[] } }).result.tools.map((t) => t.name)
    assert.deepEqual(names, ['echo'])
    const denied = await post({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'add' } }, legacy, 'mcp math', claims)
    assert.equal(denied.response.status, 403)
    assert.equal(denied.reachedBackend, false)
  })
})

describe('bad input gets a clear 400/413 and never reaches the backend', () => {
  const cases: [string, string, number][] = [
    ['body not JSON', '{"jsonrpc": "2.0", "id": 1, "method": ', 400],
    ['JSON-RPC without method', '{"jsonrpc":"2.0","id":1}', 400],
    ['method not a string', '{"jsonrpc":"2.0","id":1,"method":42}', 400],
    ['deeply nested JSON', `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":${'['.repeat(5000)}${']'.repeat(5000)}}`, 400],
    ['tools/call without params.name', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}', 400],
    ['an empty batch', '[]', 400],
    ['a body over the size limit', `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"x":"${'a'.repeat(1_100_000)}"}}`, 413],
  ]
  for (const [name, body, status] of cases) {
    test(name, async () => {
      const r = await post(body, {}, 'mcp math repo:admin')
      assert.equal(r.response.status, status)
      assert.equal(r.reachedBackend, false)
      const json = JSON.parse(r.text) as Record<string, unknown>
      const description = JSON.stringify(json)
      assert.ok(description.length < 400, 'a short, fixed description')
      assert.doesNotMatch(description, /aaaa|\[\[\[/, 'the body is never echoed')
    })
  }
})
