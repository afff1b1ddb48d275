import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { Agent, request as httpRequest } from 'node:http'
import { gatewayMcpUrl, mcpHeaders, openRequest, send, startKeyFileGateway, waitFor } from '../support/gateway.js'
import type { KeyFileGateway } from '../support/gateway.js'
import { startRawBackend } from '../support/mcp-backend.js'
import type { RawBackend } from '../support/mcp-backend.js'
import { readBody } from '../support/record-request.js'

// Issue 18, items 1 and 4: clients that trickle or never send a body, connection floods, and
// bodies the gateway and the backend could read differently.

const TOOLS_CALL = JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'echo', arguments: { text: 'hi' } } })

/** A raw TCP client: what it received, and when (ms after connecting) the gateway closed it. */
interface RawClient {
  readonly socket: Socket
  received(): string
  readonly closed: Promise<number>
}

function rawClient(url: string, send?: string): Promise<RawClient> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname)
    const started = Date.now()
    let text = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => (text += chunk))
    // A reset from the gateway is a close too.
    socket.on('error', () => {})
    const closed = new Promise<number>((done) => socket.once('close', () => done(Date.now() - started)))
    socket.once('connect', () => {
      if (send !== undefined) socket.write(send)
      resolve({ socket, received: () => text, closed })
    })
    socket.once('error', reject)
  })
}

/** A POST head declaring `length` bytes of body, and the first `sent` of them. */
function partialPost(path: string, authorization: string | undefined, length: number, sent: string): string {
  return (
    `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n` +
    'accept: application/json, text/event-stream\r\n' +
    (authorization === undefined ? '' : `authorization: ${authorization}\r\n`) +
    `content-length: ${length}\r\n\r\n${sent}`
  )
}

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

describe('MCP_REQUEST_TIMEOUT: the time to receive a request, never the response', () => {
  let backend: RawBackend
  let gateway: KeyFileGateway

  before(async () => {
    backend = await startRawBackend(async (req, res, record) => {
      if (req.method === 'GET') {
        // An SSE stream that outlives the request timeout several times over.
        res.writeHead(200, { 'content-type': 'text/event-stream' })
        for (let i = 0; i < 5; i++) {
          res.write(`data: {"jsonrpc":"2.0","method":"notifications/message","params":{"n":${i}}}\n\n`)
          await new Promise((resolve) => setTimeout(resolve, 300))
        }
        res.end()
        return
      }
      record.body = await readBody(req)
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"jsonrpc":"2.0","id":7,"result":{}}')
    })
    gateway = await startKeyFileGateway({ backend: backend.origin, env: { MCP_REQUEST_TIMEOUT: '400ms' } })
  })
  after(async () => {
    await gateway?.close()
    await backend?.close()
  })

  test('a body that trickles with a valid token: 408 and closed at the timeout, nothing forwarded', async () => {
    const before = backend.requests.length
    const client = await rawClient(gateway.url, partialPost('/mcp', `Bearer ${await gateway.token()}`, 10_000, '{"jsonrpc"'))
    const trickle = setInterval(() => client.socket.writable && client.socket.write(' '), 100)
    try {
      const closedAfter = await within(client.closed, 5000, 'the trickling connection closed')
      assert.ok(closedAfter >= 350, `closed after ${closedAfter} ms`)
      assert.match(client.received(), /^HTTP\/1\.1 408 /)
    } finally {
      clearInterval(trickle)
    }
    assert.equal(backend.requests.length, before)
  })

  test('a connection that never sends its head is closed at the timeout', async () => {
    const client = await rawClient(gateway.url)
    const closedAfter = await within(client.closed, 5000, 'the silent connection closed')
    assert.ok(closedAfter >= 350, `closed after ${closedAfter} ms`)
  })

  test('an SSE response streams for longer than the timeout, uncut', async () => {
    const { response } = openRequest(gatewayMcpUrl(gateway), {
      headers: { authorization: `Bearer ${await gateway.token()}`, accept: 'text/event-stream', 'mcp-protocol-version': '2025-06-18' },
    })
    const head = await response
    assert.equal(head.statusCode, 200)
    const started = Date.now()
    let text = ''
    for await (const chunk of head) text += String(chunk)
    assert.equal(text.match(/^data: /gm)?.length, 5, text)
    assert.ok(Date.now() - started >= 1000, 'the stream ended early')
  })

  test('a whole request sent at once is not touched by the timeout', async () => {
    const response = await send(gatewayMcpUrl(gateway), {
      method: 'POST',
      headers: mcpHeaders({ authorization: `Bearer ${await gateway.token()}` }),
      body: TOOLS_CALL,
    })
    assert.equal(response.status, 200, response.body)
  })
})

describe('a refusal written before the body is in closes the connection', () => {
  let backend: RawBackend
  let gateway: KeyFileGateway

  before(async () => {
    backend = await startRawBackend(async (req, res) => {
      await readBody(req)
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"jsonrpc":"2.0","id":7,"result":{}}')
    })
    // The default request timeout (30 s): the close must come from the refusal, not the timeout.
    gateway = await startKeyFileGateway({ backend: backend.origin })
  })
  after(async () => {
    await gateway?.close()
    await backend?.close()
  })

  for (const [name, path, authorization, status] of [
    ['no token: 401', '/mcp', undefined, 401],
    ['a bad token: 401', '/mcp', 'Bearer not-a-token', 401],
    ['an unknown path: 404', '/elsewhere', undefined, 404],
    ['POST to the metadata: 405', '/.well-known/oauth-protected-resource', undefined, 405],
  ] as const) {
    test(name, async () => {
      const client = await rawClient(gateway.url, partialPost(path, authorization, 10_000, '{"jsonrpc":'))
      await within(client.closed, 3000, 'the refused connection closed')
      assert.match(client.received(), new RegExp(`^HTTP/1\\.1 ${status} `))
      assert.match(client.received(), /\r\nconnection: close\r\n/i)
    })
  }

  test('issue 18: a body naming the tool twice, or not UTF-8, is a 400 and never forwarded', async () => {
    const before = backend.requests.length
    const bodies = [
      [Buffer.from('{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"delete_repo","name":"echo"}}'), -32600],
      [Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo'), Buffer.from([0xff]), Buffer.from('"}}')]), -32700],
    ] as const
    for (const [body, code] of bodies) {
      const response = await send(gatewayMcpUrl(gateway), {
        method: 'POST',
        headers: mcpHeaders({ authorization: `Bearer ${await gateway.token()}` }),
        body,
      })
      assert.equal(response.status, 400, response.body)
      assert.equal((JSON.parse(response.body) as { error: { code: number } }).error.code, code)
    }
    assert.equal(backend.requests.length, before)
  })

  test('a refusal after the whole body keeps the connection alive', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    try {
      // With its Content-Length the body leaves in the head's write, so the refusal finds it complete.
      const post = (authorization: string) =>
        new Promise<{ status: number; socket: unknown }>((resolve, reject) => {
          const headers = mcpHeaders({ authorization, 'content-length': String(Buffer.byteLength(TOOLS_CALL)) })
          const req = httpRequest(gatewayMcpUrl(gateway), { method: 'POST', agent, headers })
          req.once('error', reject)
          req.once('response', (res) => {
            res.resume()
            res.once('end', () => resolve({ status: res.statusCode ?? 0, socket: req.socket }))
          })
          req.end(TOOLS_CALL)
        })
      const refused = await post('Bearer not-a-token')
      const allowed = await post(`Bearer ${await gateway.token()}`)
      assert.deepEqual([refused.status, allowed.status], [401, 200])
      assert.equal(allowed.socket, refused.socket, 'the keep-alive connection was not reused')
    } finally {
      agent.destroy()
    }
  })
})

describe('MCP_MAX_CONNECTIONS: connections without a verified token are shed first', () => {
  let backend: RawBackend
  let gateway: KeyFileGateway
  const hostile: RawClient[] = []

  before(async () => {
    backend = await startRawBackend(async (req, res) => {
      await readBody(req)
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"jsonrpc":"2.0","id":7,"result":{}}')
    })
    gateway = await startKeyFileGateway({ backend: backend.origin, env: { MCP_MAX_CONNECTIONS: '20' } })
  })
  after(async () => {
    for (const client of hostile) client.socket.destroy()
    await gateway?.close()
    await backend?.close()
  })

  test('25 idle and trickling sockets: an authenticated connection opened before them lives on, a new one gets through', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    try {
      const post = () =>
        new Promise<{ status: number; socket: unknown }>(async (resolve, reject) => {
          const req = httpRequest(gatewayMcpUrl(gateway), {
            method: 'POST',
            agent,
            headers: mcpHeaders({ authorization: `Bearer ${await gateway.token()}` }),
          })
          req.once('error', reject)
          req.once('response', (res) => {
            res.resume()
            res.once('end', () => resolve({ status: res.statusCode ?? 0, socket: req.socket }))
          })
          req.end(TOOLS_CALL)
        })
      const first = await post()
      assert.equal(first.status, 200)

      for (let i = 0; i < 25; i++) {
        // Silent, or a head that never ends: neither can be answered, so both would sit until the request timeout.
        const client = await rawClient(gateway.url, i % 2 === 0 ? undefined : 'POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\n')
        hostile.push(client)
      }
      const open = () => new Promise<number>((resolve) => gateway.running.server.getConnections((_e, n) => resolve(n)))
      await waitFor(async () => (await open()) <= 20, 'the gateway holding at most 20 connections')
      // The oldest hostile sockets went first; the ones kept are the newest.
      await waitFor(() => hostile.slice(0, 5).every((c) => c.socket.destroyed), 'the five oldest hostile sockets closed')

      const again = await post()
      assert.equal(again.status, 200)
      assert.equal(again.socket, first.socket, 'the authenticated connection was closed')

      // A fresh connection (no token yet) pushes out the oldest hostile one and gets its answer.
      const fresh = await send(gatewayMcpUrl(gateway), {
        method: 'POST',
        headers: mcpHeaders({ authorization: `Bearer ${await gateway.token()}` }),
        body: TOOLS_CALL,
      })
      assert.equal(fresh.status, 200, fresh.body)
      assert.ok((await open()) <= 20)
    } finally {
      agent.destroy()
    }
  })
})
