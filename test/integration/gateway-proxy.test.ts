import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { gunzipSync, gzipSync } from 'node:zlib'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { reservePort } from '../../src/demo/reserve-port.js'
import {
  gatewayMcpUrl,
  headerLines,
  makeTempDir,
  mcpHeaders,
  openRequest,
  postMcp,
  send,
  startGatewayStack,
  startKeyFileGateway,
  waitFor,
  withDpopChallenge,
} from '../support/gateway.js'
import type { GatewayStack, KeyFileGateway } from '../support/gateway.js'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startRawBackend } from '../support/mcp-backend.js'
import type { RawBackend } from '../support/mcp-backend.js'
import { readBody } from '../support/record-request.js'

// The proxy half of issue 2: metadata, the SDK client end to end, streaming, cancellation,
// backend failures, body limits, health and Origin.

const TOOLS_CALL = JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'echo', arguments: { text: 'hi' } } })

function assertNoAuthorizationUpstream(requests: readonly { rawHeaders: readonly string[]; headers: Record<string, unknown> }[]): void {
  assert.ok(requests.length > 0, 'the backend saw no request')
  for (const request of requests) {
    assert.equal(request.headers['authorization'], undefined)
    assert.ok(!request.rawHeaders.some((name, i) => i % 2 === 0 && /^(proxy-)?authorization$/i.test(name)))
  }
}

/** Reads a response body, noting when each chunk arrived. */
async function readTimed(response: IncomingMessage): Promise<{ text: string; chunks: { at: number; text: string }[] }> {
  const chunks: { at: number; text: string }[] = []
  for await (const chunk of response) chunks.push({ at: Date.now(), text: String(chunk) })
  return { text: chunks.map((c) => c.text).join(''), chunks }
}

describe('the SDK client through the gateway (AS token, stateful SDK backend)', () => {
  let stack: GatewayStack

  before(async () => {
    stack = await startGatewayStack({ env: { MCP_REQUIRED_SCOPE: 'mcp:read' } })
  })
  after(async () => {
    await stack?.close()
  })

  test('listTools and callTool with a client_credentials token; GET stream and DELETE forwarded; no token upstream', async () => {
    const token = await stack.token()
    const transport = new StreamableHTTPClientTransport(new URL(stack.gateway.canonicalUri), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    })
    const client = new Client({ name: 'gateway-proxy-test', version: '1.0.0' })
    await client.connect(transport)
    try {
      const tools = await client.listTools()
      assert.deepEqual(
        tools.tools.map((t) => t.name).sort(),
        ['add', 'delete_repo', 'echo', 'slow_count'],
      )
      const result = (await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } })) as CallToolResult
      assert.deepEqual(result.content, [{ type: 'text', text: '5' }])
      await waitFor(() => stack.backend.requests.some((r) => r.method === 'GET'), 'the standalone GET SSE stream')
      assert.equal(stack.backend.sessionIds().length, 1)
      await transport.terminateSession()
    } finally {
      await client.close()
    }
    const methods = new Set(stack.backend.requests.map((r) => r.method))
    assert.deepEqual([...methods].sort(), ['DELETE', 'GET', 'POST'])
    assertNoAuthorizationUpstream(stack.backend.requests)
    assert.equal(stack.backend.sessionIds().length, 0)
  })

  test('progress notifications of slow_count stream through before the result', async () => {
    const transport = new StreamableHTTPClientTransport(new URL(stack.gateway.canonicalUri), {
      requestInit: { headers: { Authorization: `Bearer ${await stack.token()}` } },
    })
    const client = new Client({ name: 'gateway-proxy-test', version: '1.0.0' })
    await client.connect(transport)
    try {
      const progressAt: number[] = []
      const result = (await client.callTool({ name: 'slow_count', arguments: { count: 3, delayMs: 250 } }, undefined, {
        onprogress: () => progressAt.push(Date.now()),
      })) as CallToolResult
      const resultAt = Date.now()
      assert.deepEqual(result.content, [{ type: 'text', text: 'counted 3' }])
      assert.equal(progressAt.length, 3)
      // Buffered, all three would arrive with the result; streamed, the first is ~750 ms earlier
      // (the margin leaves room for a loaded machine).
      const lead = resultAt - (progressAt[0] as number)
      assert.ok(lead >= 250, `first progress only ${lead} ms before the result`)
      await transport.terminateSession()
    } finally {
      await client.close()
    }
    assertNoAuthorizationUpstream(stack.backend.requests)
  })

  test('metadata at the root and the path-aware URL, GET and HEAD', async () => {
    const expected = {
      resource: stack.gateway.canonicalUri,
      authorization_servers: [stack.as.issuer],
      scopes_supported: ['mcp:read', 'mcp:write'],
      bearer_methods_supported: ['header'],
      // RFC 9728 §2: DPoP is on by default (senderConstraint.dpop: optional).
      dpop_signing_alg_values_supported: ['ES256', 'EdDSA', 'RS256', 'PS256'],
      dpop_bound_access_tokens_required: false,
    }
    for (const path of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp']) {
      const get = await send(`${stack.gateway.url}${path}`, { headers: { origin: 'https://elsewhere.example.com' } })
      assert.equal(get.status, 200, path)
      assert.equal(get.headers['content-type'], 'application/json')
      assert.equal(get.headers['access-control-allow-origin'], '*')
      assert.deepEqual(JSON.parse(get.body), expected)
      assert.equal((JSON.parse(get.body) as { resource: string }).resource, stack.gateway.canonicalUri)
      const head = await send(`${stack.gateway.url}${path}`, { method: 'HEAD' })
      assert.equal(head.status, 200)
      assert.equal(head.body, '')
      assert.equal(head.headers['content-type'], 'application/json')
      assert.equal(head.headers['content-length'], String(Buffer.byteLength(get.body)))
      assert.equal(head.headers['access-control-allow-origin'], '*')
    }
  })

  test('the challenge points at the metadata, which points at the AS', async () => {
    const challenge = await postMcp(stack.gateway)
    const url = /resource_metadata="([^"]+)"/.exec(headerLines(challenge, 'www-authenticate')[0] ?? '')?.[1]
    assert.equal(url, `${new URL(stack.gateway.canonicalUri).origin}/.well-known/oauth-protected-resource/mcp`)
    const metadata = JSON.parse((await send(url as string)).body) as { authorization_servers: string[] }
    const as = await fetch(`${metadata.authorization_servers[0]}/.well-known/openid-configuration`)
    assert.equal(((await as.json()) as { issuer: string }).issuer, stack.as.issuer)
  })

  test('a CORS preflight for the metadata passes from any origin', async () => {
    const response = await send(`${stack.gateway.url}/.well-known/oauth-protected-resource/mcp`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET', 'access-control-request-headers': 'mcp-protocol-version' },
    })
    assert.equal(response.status, 204)
    assert.equal(response.headers['access-control-allow-origin'], '*')
    assert.match(String(response.headers['access-control-allow-methods']), /GET/)
    assert.match(String(response.headers['access-control-allow-headers']), /mcp-protocol-version/i)
  })

  test('other well-known paths and methods', async () => {
    assert.equal((await send(`${stack.gateway.url}/.well-known/oauth-protected-resource/other`)).status, 404)
    assert.equal((await send(`${stack.gateway.url}/.well-known/oauth-authorization-server`)).status, 404)
    const post = await send(`${stack.gateway.url}/.well-known/oauth-protected-resource`, { method: 'POST', body: '{}' })
    assert.equal(post.status, 405)
    assert.equal(post.headers['allow'], 'GET, HEAD, OPTIONS')
  })
})

describe('metadata for a deeper resource path', () => {
  let backend: RawBackend
  let gateway: KeyFileGateway

  before(async () => {
    backend = await startRawBackend((_req, res) => {
      res.end()
    })
    gateway = await startKeyFileGateway({ backend: backend.origin, path: '/tenant/a/mcp' })
  })
  after(async () => {
    await gateway?.close()
    await backend?.close()
  })

  test('served at the RFC 9728 §3.1 path-aware URL and at the root', async () => {
    for (const path of ['/.well-known/oauth-protected-resource/tenant/a/mcp', '/.well-known/oauth-protected-resource']) {
      const response = await send(`${gateway.url}${path}`)
      assert.equal(response.status, 200, path)
      assert.equal((JSON.parse(response.body) as { resource: string }).resource, gateway.canonicalUri)
    }
    assert.equal((await send(`${gateway.url}/.well-known/oauth-protected-resource/mcp`)).status, 404)
    const challenge = await postMcp(gateway)
    assert.deepEqual(
      headerLines(challenge, 'www-authenticate'),
      withDpopChallenge(`Bearer resource_metadata="${new URL(gateway.canonicalUri).origin}/.well-known/oauth-protected-resource/tenant/a/mcp"`),
    )
  })
})

describe('MCP_METADATA_URI', () => {
  let backend: RawBackend
  let gateway: KeyFileGateway

  before(async () => {
    backend = await startRawBackend((_req, res) => {
      res.end()
    })
    const port = await reservePort()
    gateway = await startKeyFileGateway({
      backend: backend.origin,
      port,
      env: { MCP_METADATA_URI: `http://127.0.0.1:${port}/meta/resource.json` },
    })
  })
  after(async () => {
    await gateway?.close()
    await backend?.close()
  })

  test('the challenge names it and the gateway serves the document there too', async () => {
    const metadataUri = `${new URL(gateway.canonicalUri).origin}/meta/resource.json`
    const challenge = await postMcp(gateway)
    assert.deepEqual(headerLines(challenge, 'www-authenticate'), withDpopChallenge(`Bearer resource_metadata="${metadataUri}"`))
    for (const url of [metadataUri, `${gateway.url}/.well-known/oauth-protected-resource/mcp`]) {
      const response = await send(url)
      assert.equal(response.status, 200, url)
      assert.equal((JSON.parse(response.body) as { resource: string }).resource, gateway.canonicalUri)
    }
  })
})

describe('streaming and cancellation (raw backend)', () => {
  let backend: RawBackend
  let gateway: KeyFileGateway
  /** What the raw backend does per request, keyed by the JSON-RPC id or `GET`. */
  const behaviours = new Map<string, (req: IncomingMessage, res: ServerResponse) => Promise<void>>()
  const backendEvents: { id: string; event: string; at: number }[] = []

  before(async () => {
    backend = await startRawBackend(async (req, res, record) => {
      let id = req.method ?? ''
      if (req.method === 'POST') {
        record.body = await readBody(req)
        id = String((JSON.parse(record.body) as { id: unknown }).id)
      }
      const behaviour = behaviours.get(id)
      if (behaviour === undefined) {
        res.writeHead(500)
        res.end()
        return
      }
      res.once('close', () => backendEvents.push({ id, event: res.writableFinished ? 'finished' : 'closed early', at: Date.now() }))
      await behaviour(req, res)
    })
    gateway = await startKeyFileGateway({ backend: backend.origin })
  })
  after(async () => {
    await gateway?.close()
    await backend?.close()
  })

  const post = async (id: number, extra: Record<string, string> = {}) =>
    openRequest(gatewayMcpUrl(gateway), {
      method: 'POST',
      headers: mcpHeaders({ authorization: `Bearer ${await gateway.token()}`, ...extra }),
      body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: {} } }),
    })

  test('SSE: the first event reaches the client before the backend ends the stream', async () => {
    let endedAt = 0
    behaviours.set('101', async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
      res.write('event: message\ndata: {"n":1}\n\n')
      await sleep(500)
      res.write('event: message\ndata: {"n":2}\n\n')
      endedAt = Date.now()
      res.end()
    })
    const { response } = await post(101)
    const head = await response
    assert.equal(head.statusCode, 200)
    assert.equal(head.headers['content-type'], 'text/event-stream')
    const { text, chunks } = await readTimed(head)
    assert.equal(text, 'event: message\ndata: {"n":1}\n\nevent: message\ndata: {"n":2}\n\n')
    const first = chunks.find((c) => c.text.includes('"n":1'))
    assert.ok(first !== undefined)
    assert.ok(!first.text.includes('"n":2'), 'the two events arrived together')
    assert.ok(endedAt - first.at >= 150, `first event only ${endedAt - first.at} ms before the backend ended`)
  })

  test('a GET stream is forwarded and streamed too', async () => {
    let endedAt = 0
    behaviours.set('GET', async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write(': keepalive\n\n')
      await sleep(400)
      endedAt = Date.now()
      res.end('event: message\ndata: {}\n\n')
    })
    const { response } = openRequest(gatewayMcpUrl(gateway), {
      headers: { accept: 'text/event-stream', authorization: `Bearer ${await gateway.token()}` },
    })
    const head = await response
    assert.equal(head.statusCode, 200)
    const { chunks } = await readTimed(head)
    assert.ok(chunks[0] !== undefined && chunks[0].text.startsWith(': keepalive'))
    assert.ok(endedAt - chunks[0].at >= 100, 'the keepalive comment was held back')
    assertNoAuthorizationUpstream(backend.requests.filter((r) => r.method === 'GET'))
  })

  test('a client that disconnects mid-stream cancels the upstream request', async () => {
    behaviours.set('102', async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write('event: message\ndata: {"n":1}\n\n')
      // Never ends by itself: only the gateway closing the connection stops it.
      await new Promise((resolve) => res.once('close', resolve))
    })
    const { request, response } = await post(102)
    const head = await response
    await new Promise((resolve) => head.once('data', resolve))
    const abortedAt = Date.now()
    request.destroy()
    await waitFor(() => backendEvents.some((e) => e.id === '102'), 'the backend to see its request closed', 3000)
    const event = backendEvents.find((e) => e.id === '102')
    assert.equal(event?.event, 'closed early')
    assert.ok((event?.at as number) - abortedAt < 2000)
  })

  test('a client that disconnects before the backend answers cancels the upstream request', async () => {
    let arrived = false
    behaviours.set('103', async (_req, res) => {
      arrived = true
      await new Promise((resolve) => res.once('close', resolve))
    })
    const { request } = await post(103)
    await waitFor(() => arrived, 'the request to reach the backend')
    request.destroy()
    await waitFor(() => backendEvents.some((e) => e.id === '103'), 'the backend to see its request closed', 3000)
    assert.equal(backendEvents.find((e) => e.id === '103')?.event, 'closed early')
  })

  test('JSON responses pass through with their status and headers, without hop-by-hop ones', async () => {
    behaviours.set('104', async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-backend': 'yes', 'keep-alive': 'timeout=5', 'mcp-session-id': 's1' })
      res.end('{"jsonrpc":"2.0","id":104,"result":{}}')
    })
    const response = await send(gatewayMcpUrl(gateway), {
      method: 'POST',
      headers: mcpHeaders({
        authorization: `Bearer ${await gateway.token()}`,
        'proxy-authorization': 'Basic cHJveHk6c2VjcmV0',
        connection: 'keep-alive, x-drop-me',
        'x-drop-me': '1',
      }),
      body: JSON.stringify({ jsonrpc: '2.0', id: 104, method: 'tools/call', params: { name: 'echo', arguments: {} } }),
    })
    assert.equal(response.status, 200)
    assert.equal(response.body, '{"jsonrpc":"2.0","id":104,"result":{}}')
    assert.equal(response.headers['x-backend'], 'yes')
    assert.equal(response.headers['mcp-session-id'], 's1')
    // The gateway's own connection may say keep-alive; the backend's hop-by-hop value must not cross.
    assert.ok(!headerLines(response, 'keep-alive').includes('timeout=5'))
    const upstream = backend.requests.at(-1)
    assert.equal(upstream?.headers['x-drop-me'], undefined)
    assert.equal(upstream?.headers['x-forwarded-proto'], 'http')
    assert.equal(upstream?.body, JSON.stringify({ jsonrpc: '2.0', id: 104, method: 'tools/call', params: { name: 'echo', arguments: {} } }))
    assertNoAuthorizationUpstream(backend.requests)
  })

  test('a forwarded answer carries the gateway\'s X-Request-Id once; a backend\'s own one stands', async () => {
    const answer = (id: number, extra: Record<string, string>) => async (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/json', ...extra })
      res.end(`{"jsonrpc":"2.0","id":${id},"result":{}}`)
    }
    behaviours.set('105', answer(105, {}))
    behaviours.set('106', answer(106, { 'x-request-id': 'from-the-backend' }))
    const call = async (id: number, extra: Record<string, string> = {}) =>
      send(gatewayMcpUrl(gateway), {
        method: 'POST',
        headers: mcpHeaders({ authorization: `Bearer ${await gateway.token()}`, ...extra }),
        body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: {} } }),
      })
    const generated = await call(105)
    assert.equal(generated.status, 200)
    assert.equal(headerLines(generated, 'x-request-id').length, 1)
    assert.match(String(generated.headers['x-request-id']), /^[0-9a-f-]{36}$/)
    assert.deepEqual(headerLines(await call(105, { 'x-request-id': 'client-chosen.1' }), 'x-request-id'), ['client-chosen.1'])
    assert.deepEqual(headerLines(await call(106), 'x-request-id'), ['from-the-backend'])
  })
})

describe('backend failures and limits', () => {
  let silent: RawBackend
  let echo: RawBackend
  let down: KeyFileGateway
  let slow: KeyFileGateway
  let limited: KeyFileGateway
  const hanging: ServerResponse[] = []

  before(async () => {
    const closedPort = await reservePort()
    down = await startKeyFileGateway({ backend: `127.0.0.1:${closedPort}` })
    silent = await startRawBackend((_req, res) => {
      // Never sends headers; released in `after`.
      hanging.push(res)
    })
    slow = await startKeyFileGateway({ backend: silent.origin, env: { MCP_BACKEND_TIMEOUT: '300ms' } })
    echo = await startRawBackend(async (req, res, record) => {
      record.body = await readBody(req)
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"jsonrpc":"2.0","id":1,"result":{}}')
    })
    limited = await startKeyFileGateway({ backend: echo.origin, env: { MCP_MAX_BODY_SIZE: '1k' } })
  })
  after(async () => {
    for (const res of hanging) res.destroy()
    for (const gateway of [down, slow, limited]) await gateway?.close()
    await silent?.close()
    await echo?.close()
  })

  test('backend down: 502', async () => {
    const response = await postMcp(down, `Bearer ${await down.token()}`, TOOLS_CALL)
    assert.equal(response.status, 502)
    assert.deepEqual(JSON.parse(response.body), { error: 'upstream_unreachable', error_description: 'The MCP server could not be reached' })
    assert.deepEqual(headerLines(response, 'www-authenticate'), [])
  })

  test('/readyz is 503 while the backend is down, /healthz stays 200', async () => {
    const ready = await send(`${down.url}/readyz`)
    assert.equal(ready.status, 503)
    assert.deepEqual(JSON.parse(ready.body), { ready: false, keys: true, backend: false })
    assert.equal(ready.headers['cache-control'], 'no-store')
    const health = await send(`${down.url}/healthz`)
    assert.equal(health.status, 200)
    assert.deepEqual(JSON.parse(health.body), { status: 'ok' })
  })

  test('/readyz is 200 with keys loaded and the backend up', async () => {
    const ready = await send(`${limited.url}/readyz`)
    assert.equal(ready.status, 200)
    assert.deepEqual(JSON.parse(ready.body), { ready: true, keys: true, backend: true })
  })

  test('backend that never sends headers: 504 after MCP_BACKEND_TIMEOUT', async () => {
    const started = Date.now()
    const response = await postMcp(slow, `Bearer ${await slow.token()}`, TOOLS_CALL)
    const took = Date.now() - started
    assert.equal(response.status, 504)
    assert.deepEqual(JSON.parse(response.body), { error: 'upstream_timeout', error_description: 'The MCP server did not answer in time' })
    assert.ok(took >= 250 && took < 5000, `answered after ${took} ms`)
  })

  const padded = (size: number): string => {
    const body = TOOLS_CALL
    return body.slice(0, -1) + ' '.repeat(size - body.length) + '}'
  }

  test('a body of exactly MCP_MAX_BODY_SIZE passes', async () => {
    const body = padded(1024)
    assert.equal(Buffer.byteLength(body), 1024)
    const response = await postMcp(limited, `Bearer ${await limited.token()}`, body)
    assert.equal(response.status, 200, response.body)
    assert.equal(echo.requests.at(-1)?.body, body)
  })

  test('a body over MCP_MAX_BODY_SIZE by Content-Length: 413', async () => {
    const before = echo.requests.length
    const response = await send(gatewayMcpUrl(limited), {
      method: 'POST',
      headers: mcpHeaders({ authorization: `Bearer ${await limited.token()}`, 'content-length': '1025' }),
      body: padded(1025),
    })
    assert.equal(response.status, 413)
    assert.deepEqual(JSON.parse(response.body), { error: 'body_too_large', error_description: 'The request body is too large' })
    assert.equal(echo.requests.length, before)
  })

  test('a chunked body over MCP_MAX_BODY_SIZE: 413', async () => {
    const before = echo.requests.length
    const body = padded(4096)
    const { request, response } = openRequest(gatewayMcpUrl(limited), {
      method: 'POST',
      headers: mcpHeaders({ authorization: `Bearer ${await limited.token()}` }),
      body: [body.slice(0, 1000), body.slice(1000, 2000), body.slice(2000)],
    })
    assert.equal(request.getHeader('content-length'), undefined, 'the body must go chunked')
    const head = await response
    assert.equal(head.statusCode, 413)
    assert.deepEqual(JSON.parse((await readTimed(head)).text), {
      error: 'body_too_large',
      error_description: 'The request body is too large',
    })
    assert.equal(echo.requests.length, before)
  })
})

describe('Origin and CORS on the MCP path', () => {
  let backend: RawBackend
  let gateway: KeyFileGateway

  before(async () => {
    backend = await startRawBackend(async (req, res) => {
      await readBody(req)
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"jsonrpc":"2.0","id":7,"result":{}}')
    })
    gateway = await startKeyFileGateway({ backend: backend.origin })
  })
  after(async () => {
    await gateway?.close()
    await backend?.close()
  })

  const call = async (origin: string | undefined) =>
    send(gatewayMcpUrl(gateway), {
      method: 'POST',
      headers: mcpHeaders({ authorization: `Bearer ${await gateway.token()}`, ...(origin === undefined ? {} : { origin }) }),
      body: TOOLS_CALL,
    })

  test('a disallowed Origin: 403, even with a valid token, and nothing forwarded', async () => {
    for (const origin of ['https://evil.example.com', 'null', 'http://localhost.evil.example.com']) {
      const before = backend.requests.length
      const response = await call(origin)
      assert.equal(response.status, 403, origin)
      assert.deepEqual(JSON.parse(response.body), { error: 'invalid_origin', error_description: 'Origin not allowed' })
      assert.deepEqual(headerLines(response, 'www-authenticate'), [])
      assert.equal(backend.requests.length, before)
    }
  })

  test('a disallowed Origin without a token is 403 too (Origin is checked first)', async () => {
    const response = await send(gatewayMcpUrl(gateway), {
      method: 'POST',
      headers: mcpHeaders({ origin: 'https://evil.example.com' }),
      body: TOOLS_CALL,
    })
    assert.equal(response.status, 403)
  })

  test('loopback and canonical origins pass, with CORS headers', async () => {
    for (const origin of ['http://localhost:5173', 'http://127.0.0.1:3000', new URL(gateway.canonicalUri).origin]) {
      const response = await call(origin)
      assert.equal(response.status, 200, origin)
      assert.equal(response.headers['access-control-allow-origin'], origin)
      assert.match(String(response.headers['access-control-expose-headers']), /WWW-Authenticate/)
    }
  })

  test('a browser without a token can read the 401 challenge (CORS headers on the refusal)', async () => {
    const response = await send(gatewayMcpUrl(gateway), {
      method: 'POST',
      headers: mcpHeaders({ origin: 'http://localhost:5173' }),
      body: TOOLS_CALL,
    })
    assert.equal(response.status, 401)
    assert.equal(response.headers['access-control-allow-origin'], 'http://localhost:5173')
    assert.match(String(response.headers['access-control-expose-headers']), /WWW-Authenticate/)
  })

  test('no Origin (a non-browser client) passes', async () => {
    assert.equal((await call(undefined)).status, 200)
  })

  test('a CORS preflight on the MCP path passes without a token', async () => {
    const before = backend.requests.length
    const response = await send(gatewayMcpUrl(gateway), {
      method: 'OPTIONS',
      headers: {
        origin: 'http://localhost:5173',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, mcp-protocol-version',
      },
    })
    assert.equal(response.status, 204)
    assert.equal(response.headers['access-control-allow-origin'], 'http://localhost:5173')
    assert.match(String(response.headers['access-control-allow-methods']), /POST/)
    assert.match(String(response.headers['access-control-allow-headers']), /Authorization/i)
    // A browser DPoP client sends its proof in `DPoP` (RFC 9449 §4.1).
    assert.match(String(response.headers['access-control-allow-headers']), /\bDPoP\b/)
    assert.deepEqual(headerLines(response, 'www-authenticate'), [])
    assert.equal(backend.requests.length, before)
  })

  test('MCP_ALLOWED_ORIGINS lists the browser origins allowed; * allows any', async () => {
    const listed = await startKeyFileGateway({ backend: backend.origin, env: { MCP_ALLOWED_ORIGINS: 'https://app.example.com/' } })
    const any = await startKeyFileGateway({ backend: backend.origin, env: { MCP_ALLOWED_ORIGINS: '*' } })
    try {
      const post = async (gw: KeyFileGateway, origin: string) =>
        (
          await send(gatewayMcpUrl(gw), {
            method: 'POST',
            headers: mcpHeaders({ authorization: `Bearer ${await gw.token()}`, origin }),
            body: TOOLS_CALL,
          })
        ).status
      assert.equal(await post(listed, 'https://app.example.com'), 200)
      assert.equal(await post(listed, 'https://APP.example.com'), 200)
      assert.equal(await post(listed, 'https://other.example.com'), 403)
      // Loopback origins stay allowed (a DNS-rebinding page never has one).
      assert.equal(await post(listed, 'http://localhost:5173'), 200)
      assert.equal(await post(any, 'https://other.example.com'), 200)
    } finally {
      await listed.close()
      await any.close()
    }
  })

  test('a preflight from a disallowed Origin: 403', async () => {
    const response = await send(gatewayMcpUrl(gateway), {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'POST' },
    })
    assert.equal(response.status, 403)
  })
})

describe('routing and the backend path', () => {
  let backend: RawBackend
  let gateway: KeyFileGateway

  before(async () => {
    backend = await startRawBackend(async (req, res, record) => {
      record.body = await readBody(req)
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"jsonrpc":"2.0","id":7,"result":{}}')
    })
    gateway = await startKeyFileGateway({ backend: `${backend.origin}/api/mcp` })
  })
  after(async () => {
    await gateway?.close()
    await backend?.close()
  })

  const post = async (path: string) =>
    send(`${gateway.url}${path}`, {
      method: 'POST',
      headers: mcpHeaders({ authorization: `Bearer ${await gateway.token()}` }),
      body: TOOLS_CALL,
    })

  test('the resource path maps onto the backend URL path, query kept', async () => {
    const rows: [string, string][] = [
      ['/mcp', '/api/mcp'],
      ['/mcp?tenant=a', '/api/mcp?tenant=a'],
      ['/mcp/sub', '/api/mcp/sub'],
    ]
    for (const [path, upstream] of rows) {
      const response = await post(path)
      assert.equal(response.status, 200, path)
      assert.equal(backend.requests.at(-1)?.url, upstream)
    }
  })

  test('paths outside the resource are 404 without a challenge', async () => {
    for (const path of ['/mcpx', '/', '/other/mcp']) {
      const before = backend.requests.length
      const response = await send(`${gateway.url}${path}`, { method: 'POST', headers: mcpHeaders(), body: TOOLS_CALL })
      assert.equal(response.status, 404, path)
      assert.deepEqual(headerLines(response, 'www-authenticate'), [])
      assert.equal(backend.requests.length, before)
    }
  })

  test('methods other than GET, POST, DELETE and OPTIONS: 405 with Allow', async () => {
    for (const method of ['PUT', 'PATCH', 'HEAD']) {
      const response = await send(gatewayMcpUrl(gateway), { method, headers: { authorization: `Bearer ${await gateway.token()}` } })
      assert.equal(response.status, 405, method)
      assert.equal(response.headers['allow'], 'GET, POST, DELETE, OPTIONS')
    }
  })

  test('/healthz answers without a token', async () => {
    const response = await send(`${gateway.url}/healthz`)
    assert.equal(response.status, 200)
    assert.deepEqual(JSON.parse(response.body), { status: 'ok' })
  })
})

describe('list filtering cannot be bypassed with a compressed response', () => {
  const LIST = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    result: { tools: [{ name: 'echo', inputSchema: { type: 'object' } }, { name: 'delete_repo', inputSchema: { type: 'object' } }] },
  })
  const TOOLS_LIST = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' })
  let backend: RawBackend
  let gateway: KeyFileGateway
  let removeDir: () => Promise<void>
  /** `honour`: gzip only when asked; `always`: gzip whatever the request says. */
  let compression: 'honour' | 'always' = 'honour'

  before(async () => {
    backend = await startRawBackend(async (req, res, record) => {
      record.body = await readBody(req)
      const gzip = compression === 'always' || String(req.headers['accept-encoding'] ?? '').includes('gzip')
      res.writeHead(200, { 'content-type': 'application/json', ...(gzip ? { 'content-encoding': 'gzip' } : {}) })
      res.end(gzip ? gzipSync(LIST) : LIST)
    })
    const temp = await makeTempDir()
    removeDir = temp.remove
    const file = join(temp.dir, 'gateway.yaml')
    await writeFile(
      file,
      ['scopes:', '  supported: [mcp:read, mcp:admin]', '  tools:', '    delete_repo: [mcp:admin]', '  filterLists: true', ''].join('\n'),
    )
    gateway = await startKeyFileGateway({ backend: backend.origin, env: { MCP_CONFIG: file } })
  })
  after(async () => {
    await gateway?.close()
    await backend?.close()
    await removeDir?.()
  })

  /** The body as bytes, decoded if the gateway sent it gzip-encoded. */
  async function listTools(scope: string): Promise<{ status: number; text: string; encoding: string | undefined }> {
    const { response } = openRequest(gatewayMcpUrl(gateway), {
      method: 'POST',
      headers: mcpHeaders({ authorization: `Bearer ${await gateway.token({ scope })}`, 'accept-encoding': 'gzip' }),
      body: TOOLS_LIST,
    })
    const head = await response
    const chunks: Buffer[] = []
    for await (const chunk of head) chunks.push(chunk as Buffer)
    const bytes = Buffer.concat(chunks)
    const encoding = head.headers['content-encoding']
    return { status: head.statusCode ?? 0, text: (encoding === 'gzip' ? gunzipSync(bytes) : bytes).toString('utf8'), encoding }
  }

  test('the gateway asks for an unencoded body when it must filter, and filters it', async () => {
    compression = 'honour'
    const filtered = await listTools('mcp:read')
    assert.equal(filtered.status, 200)
    assert.equal(filtered.encoding, undefined)
    assert.deepEqual(
      (JSON.parse(filtered.text) as { result: { tools: { name: string }[] } }).result.tools.map((t) => t.name),
      ['echo'],
    )
    assert.equal(backend.requests.at(-1)?.headers['accept-encoding'], undefined)
  })

  test('a caller who sees everything keeps the encoding it asked for', async () => {
    compression = 'honour'
    const full = await listTools('mcp:read mcp:admin')
    assert.equal(full.status, 200)
    assert.equal(full.encoding, 'gzip')
    assert.match(full.text, /delete_repo/)
  })

  test('a backend that compresses anyway: 502, never the unfiltered list', async () => {
    compression = 'always'
    const refused = await listTools('mcp:read')
    assert.equal(refused.status, 502)
    assert.doesNotMatch(refused.text, /delete_repo/)
  })
})
