import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { gatewayMcpUrl, headerLines, mcpHeaders, send, startKeyFileGateway } from '../support/gateway.js'
import type { KeyFileGateway, RawResponse } from '../support/gateway.js'
import { startRawBackend } from '../support/mcp-backend.js'
import type { RawBackend } from '../support/mcp-backend.js'
import { readBody } from '../support/record-request.js'

// Requests at the edges of HTTP: paths not in normal form, a token outside the Authorization
// header, two Host lines, and cookies. Each refusal is proven at the backend: it never saw it.

const TOOLS_CALL = JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'echo', arguments: { text: 'hi' } } })

function assertInvalidRequest(response: RawResponse, what: string): void {
  assert.equal(response.status, 400, what)
  assert.equal(response.headers['cache-control'], 'no-store', what)
  assert.deepEqual(headerLines(response, 'set-cookie'), [], what)
  const challenge = headerLines(response, 'www-authenticate')
  assert.equal(challenge.length, 1, what)
  assert.match(challenge[0] as string, /^Bearer error="invalid_request", /, what)
  assert.equal((JSON.parse(response.body) as { error: string }).error, 'invalid_request', what)
}

describe('request edges (recording backend)', () => {
  let backend: RawBackend
  let gateway: KeyFileGateway
  let cookies: KeyFileGateway

  before(async () => {
    backend = await startRawBackend(async (req, res, record) => {
      record.body = await readBody(req)
      res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'backend_session=b1; Path=/' })
      res.end('{"jsonrpc":"2.0","id":7,"result":{}}')
    })
    gateway = await startKeyFileGateway({ backend: backend.origin })
    cookies = await startKeyFileGateway({ backend: backend.origin, env: { MCP_FORWARD_COOKIES: 'on' } })
  })
  after(async () => {
    await gateway?.close()
    await cookies?.close()
    await backend?.close()
  })

  const post = async (target: string, extra: { headers?: Record<string, string>; body?: string } = {}) =>
    send(gateway.url, {
      method: 'POST',
      path: target,
      headers: mcpHeaders({ authorization: `Bearer ${await gateway.token()}`, ...extra.headers }),
      body: extra.body ?? TOOLS_CALL,
    })

  test('a path with dot or empty segments, backslashes, or encoded dots and slashes: 400 invalid_request, never forwarded', async () => {
    const targets = [
      '/mcp/../x',
      '/mcp/..',
      '/mcp/./sub',
      '/mcp//sub',
      '/mcp/%2e%2e/x',
      '/mcp/%2E%2E/x',
      '/mcp%2f..%2fx',
      '/mcp%5C..%5Cx',
      '/mcp\\..\\x',
      '/x/../mcp',
    ]
    for (const target of targets) {
      const before = backend.requests.length
      assertInvalidRequest(await post(target), target)
      assert.equal(backend.requests.length, before, `${target} reached the backend`)
    }
    // The same gateway forwards a plain path, exactly as routing saw it.
    assert.equal((await post('/mcp/sub?tenant=a')).status, 200)
    assert.equal(backend.requests.at(-1)?.url, '/mcp/sub?tenant=a')
  })

  test('the metadata routes refuse such paths too', async () => {
    for (const target of ['/.well-known/oauth-protected-resource/mcp/..', '/.well-known/oauth-protected-resource/./mcp', '/.well-known//oauth-protected-resource']) {
      assertInvalidRequest(await send(gateway.url, { path: target }), target)
    }
    assert.equal((await send(`${gateway.url}/.well-known/oauth-protected-resource/mcp`)).status, 200)
  })

  test('access_token in the query, with or without a header token: 400 invalid_request, never forwarded', async () => {
    const token = await gateway.token()
    const rows: { target: string; headers: Record<string, string> }[] = [
      { target: `/mcp?access_token=${token}`, headers: mcpHeaders({ authorization: `Bearer ${token}` }) },
      { target: `/mcp?tenant=a&access_token=${token}`, headers: mcpHeaders() },
      { target: `/mcp?access%5Ftoken=${token}`, headers: mcpHeaders({ authorization: `Bearer ${token}` }) },
    ]
    for (const row of rows) {
      const before = backend.requests.length
      const response = await send(gateway.url, { method: 'POST', path: row.target, headers: row.headers, body: TOOLS_CALL })
      assertInvalidRequest(response, row.target)
      assert.ok(!response.body.includes(token))
      assert.equal(backend.requests.length, before, `${row.target} reached the backend`)
    }
  })

  test('access_token in a form body: 400 invalid_request, never forwarded', async () => {
    const token = await gateway.token()
    const before = backend.requests.length
    for (const authorization of [{ authorization: `Bearer ${token}` }, {}]) {
      const response = await send(gatewayMcpUrl(gateway), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...authorization },
        body: `access_token=${token}`,
      })
      assertInvalidRequest(response, JSON.stringify(Object.keys(authorization)))
    }
    assert.equal(backend.requests.length, before)
  })

  test('two Host header lines: 400 on every route, never forwarded (RFC 9112 §3.2)', async () => {
    const host = new URL(gateway.url).host
    const before = backend.requests.length
    for (const path of ['/mcp', '/healthz', '/.well-known/oauth-protected-resource']) {
      const response = await send(`${gateway.url}${path}`, {
        method: path === '/mcp' ? 'POST' : 'GET',
        headers: ['host', host, 'host', 'evil.example.com', 'authorization', `Bearer ${await gateway.token()}`, 'content-type', 'application/json', 'accept', 'application/json, text/event-stream'],
        body: path === '/mcp' ? TOOLS_CALL : undefined,
      })
      assert.equal(response.status, 400, path)
      assert.equal((JSON.parse(response.body) as { error: string }).error, 'duplicate_host', path)
      assert.deepEqual(headerLines(response, 'www-authenticate'), [], path)
    }
    assert.equal(backend.requests.length, before)
  })

  test('Cookie is not forwarded and the backend\'s Set-Cookie is not passed on, by default', async () => {
    const response = await post('/mcp', { headers: { cookie: 'gateway_session=secret-value' } })
    assert.equal(response.status, 200)
    const seen = backend.requests.at(-1)
    assert.equal(seen?.headers['cookie'], undefined)
    assert.ok(!seen?.rawHeaders.some((name, i) => i % 2 === 0 && name.toLowerCase() === 'cookie'))
    assert.deepEqual(headerLines(response, 'set-cookie'), [])
  })

  test('MCP_FORWARD_COOKIES=on passes both ways', async () => {
    const response = await send(gatewayMcpUrl(cookies), {
      method: 'POST',
      headers: mcpHeaders({ authorization: `Bearer ${await cookies.token()}`, cookie: 'app_session=s1' }),
      body: TOOLS_CALL,
    })
    assert.equal(response.status, 200)
    assert.equal(backend.requests.at(-1)?.headers['cookie'], 'app_session=s1')
    assert.deepEqual(headerLines(response, 'set-cookie'), ['backend_session=b1; Path=/'])
  })
})
