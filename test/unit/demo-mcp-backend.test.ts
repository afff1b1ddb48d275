import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startDemoBackend } from '../../src/demo/mcp-backend.js'
import type { DemoBackend } from '../../src/demo/mcp-backend.js'

const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
}

async function rpc(url: string, method: string, params?: unknown): Promise<Record<string, unknown>> {
  const res = await post(url, { jsonrpc: '2.0', id: 7, method, ...(params === undefined ? {} : { params }) })
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
  const body = (await res.json()) as Record<string, unknown>
  assert.equal(body['jsonrpc'], '2.0')
  assert.equal(body['id'], 7)
  return body
}

describe('demo MCP backend', () => {
  let backend: DemoBackend
  before(async () => {
    backend = await startDemoBackend({ port: 0 })
  })
  after(async () => {
    await backend.close()
  })

  test('listens on 127.0.0.1 at /mcp', () => {
    assert.match(backend.url, /^http:\/\/127\.0\.0\.1:\d+\/mcp$/)
  })

  test('initialize echoes a supported version and falls back to 2025-11-25', async () => {
    for (const v of ['2025-03-26', '2025-06-18', '2025-11-25']) {
      const body = await rpc(backend.url, 'initialize', { protocolVersion: v, capabilities: {}, clientInfo: { name: 't', version: '1' } })
      const result = body['result'] as Record<string, unknown>
      assert.equal(result['protocolVersion'], v)
      assert.deepEqual(result['capabilities'], { tools: { listChanged: false } })
      assert.equal(typeof (result['serverInfo'] as Record<string, unknown>)['name'], 'string')
    }
    for (const v of ['2024-11-05', '2026-07-28', 42]) {
      const body = await rpc(backend.url, 'initialize', { protocolVersion: v, capabilities: {} })
      assert.equal((body['result'] as Record<string, unknown>)['protocolVersion'], '2025-11-25')
    }
  })

  test('notifications get 202 with no body', async () => {
    const res = await post(backend.url, { jsonrpc: '2.0', method: 'notifications/initialized' })
    assert.equal(res.status, 202)
    assert.equal(await res.text(), '')
  })

  test('a client JSON-RPC response gets 202', async () => {
    const res = await post(backend.url, { jsonrpc: '2.0', id: 'srv-1', result: {} })
    assert.equal(res.status, 202)
  })

  test('ping', async () => {
    const body = await rpc(backend.url, 'ping')
    assert.deepEqual(body['result'], {})
  })

  test('tools/list returns echo and add with input schemas', async () => {
    const body = await rpc(backend.url, 'tools/list')
    const tools = (body['result'] as { tools: Array<Record<string, unknown>> }).tools
    assert.deepEqual(tools.map((t) => t['name']), ['echo', 'add'])
    for (const t of tools) assert.equal((t['inputSchema'] as Record<string, unknown>)['type'], 'object')
    assert.equal((body['result'] as Record<string, unknown>)['resultType'], undefined)
  })

  test('tools/call echo and add', async () => {
    const echo = await rpc(backend.url, 'tools/call', { name: 'echo', arguments: { text: 'hi there' } })
    assert.deepEqual(echo['result'], { content: [{ type: 'text', text: 'hi there' }] })
    const add = await rpc(backend.url, 'tools/call', { name: 'add', arguments: { a: 2, b: 40.5 } })
    assert.deepEqual(add['result'], { content: [{ type: 'text', text: '42.5' }] })
  })

  test('bad tool arguments are a tool error; an unknown tool is -32602', async () => {
    const bad = await rpc(backend.url, 'tools/call', { name: 'add', arguments: { a: '1', b: 2 } })
    assert.equal((bad['result'] as Record<string, unknown>)['isError'], true)
    const unknown = await rpc(backend.url, 'tools/call', { name: 'nope', arguments: {} })
    assert.equal((unknown['error'] as Record<string, unknown>)['code'], -32602)
  })

  test('unknown method is -32601', async () => {
    const body = await rpc(backend.url, 'prompts/list')
    assert.equal((body['error'] as Record<string, unknown>)['code'], -32601)
  })

  test('2026-07-28 requests get resultType complete, and 404 for an unknown method', async () => {
    const list = await rpc(backend.url, 'tools/list', { _meta: MODERN_META })
    const listResult = list['result'] as Record<string, unknown>
    assert.equal(listResult['resultType'], 'complete')
    assert.equal(listResult['cacheScope'], 'public')
    assert.equal(typeof listResult['ttlMs'], 'number')

    const call = await rpc(backend.url, 'tools/call', { _meta: MODERN_META, name: 'echo', arguments: { text: 'x' } })
    const callResult = call['result'] as Record<string, unknown>
    assert.equal(callResult['resultType'], 'complete')
    assert.deepEqual(callResult['content'], [{ type: 'text', text: 'x' }])

    const res = await post(backend.url, { jsonrpc: '2.0', id: 1, method: 'prompts/list', params: { _meta: MODERN_META } })
    assert.equal(res.status, 404)
    assert.equal(((await res.json()) as { error: { code: number } }).error.code, -32601)
  })

  test('server/discover', async () => {
    const body = await rpc(backend.url, 'server/discover', { _meta: MODERN_META })
    const result = body['result'] as Record<string, unknown>
    assert.ok((result['supportedVersions'] as string[]).includes('2026-07-28'))
    assert.ok((result['supportedVersions'] as string[]).includes('2025-11-25'))
    assert.deepEqual(result['capabilities'], { tools: { listChanged: false } })
    assert.equal(result['resultType'], 'complete')
  })

  test('a batch is answered as an array, notifications left out', async () => {
    const res = await post(backend.url, [
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 'b', method: 'tools/call', params: { name: 'add', arguments: { a: 1, b: 1 } } },
      { jsonrpc: '2.0', id: 3, method: 'nope' },
    ])
    assert.equal(res.status, 200)
    const body = (await res.json()) as Array<Record<string, unknown>>
    assert.equal(body.length, 3)
    assert.deepEqual(body.map((m) => m['id']), [1, 'b', 3])
    assert.deepEqual(body[1]?.['result'], { content: [{ type: 'text', text: '2' }] })
    assert.equal((body[2]?.['error'] as Record<string, unknown>)['code'], -32601)

    const onlyNotes = await post(backend.url, [{ jsonrpc: '2.0', method: 'notifications/cancelled', params: {} }])
    assert.equal(onlyNotes.status, 202)
  })

  test('GET and DELETE are 405', async () => {
    for (const method of ['GET', 'DELETE']) {
      const res = await fetch(backend.url, { method })
      assert.equal(res.status, 405)
      assert.equal(res.headers.get('allow'), 'POST')
      await res.arrayBuffer()
    }
  })

  test('other paths are 404', async () => {
    const res = await post(backend.url.replace(/\/mcp$/, '/other'), { jsonrpc: '2.0', id: 1, method: 'ping' })
    assert.equal(res.status, 404)
    await res.arrayBuffer()
  })

  test('bad JSON is 400 with -32700', async () => {
    const res = await post(backend.url, '{"jsonrpc": "2.0", ')
    assert.equal(res.status, 400)
    const body = (await res.json()) as { id: unknown; error: { code: number } }
    assert.equal(body.error.code, -32700)
    assert.equal(body.id, null)
  })

  test('invalid JSON-RPC is -32600', async () => {
    const res = await post(backend.url, { id: 1, method: 'ping' })
    const body = (await res.json()) as { error: { code: number } }
    assert.equal(body.error.code, -32600)
  })

  test('Accept with only text/event-stream gets a one-event SSE stream', async () => {
    const res = await post(backend.url, { jsonrpc: '2.0', id: 5, method: 'ping' }, { accept: 'text/event-stream' })
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/)
    const text = await res.text()
    assert.equal(text, 'event: message\ndata: {"jsonrpc":"2.0","id":5,"result":{}}\n\n')
  })

  test('the sse option forces SSE', async () => {
    const sse = await startDemoBackend({ port: 0, sse: true })
    try {
      const res = await post(sse.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' })
      assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/)
      const text = await res.text()
      const data = /^event: message\ndata: (.*)\n\n$/.exec(text)?.[1]
      assert.ok(data !== undefined)
      const msg = JSON.parse(data) as { result: { tools: unknown[] } }
      assert.equal(msg.result.tools.length, 2)

      const note = await post(sse.url, { jsonrpc: '2.0', method: 'notifications/initialized' })
      assert.equal(note.status, 202)
    } finally {
      await sse.close()
    }
  })

  test('close() ends kept-alive connections', async () => {
    const b = await startDemoBackend({ port: 0 })
    const res = await post(b.url, { jsonrpc: '2.0', id: 1, method: 'ping' })
    await res.arrayBuffer()
    await b.close()
    await assert.rejects(post(b.url, { jsonrpc: '2.0', id: 1, method: 'ping' }))
  })
})
