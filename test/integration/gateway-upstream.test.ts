import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { createServer as createHttpsServer } from 'node:https'
import type { IncomingMessage } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { stringify } from 'yaml'
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js'
import { mcpCallPaths, auditLine } from '../../src/observability/audit.js'
import { events, type DecisionEvent, type NoticeEvent } from '../../src/observability/events.js'
import { accessLine } from '../../src/observability/log.js'
import { createMetrics } from '../../src/observability/metrics.js'
import { gatewayMcpUrl, headerLines, makeTempDir, mcpHeaders, openRequest, send, startKeyFileGateway, waitFor } from '../support/gateway.js'
import type { KeyFileGateway } from '../support/gateway.js'
import { spawnServe } from '../support/cli-process.js'
import { createOpsFixture, LIST_TOOLS, type OpsFixture } from '../support/ops-fixture.js'
import { startTcpBackend, type TcpBackend } from '../support/tcp-backend.js'
import { startMcpBackend, type McpBackend } from '../support/mcp-backend.js'

// The gateway's own HTTP/1.1 client (src/proxy/upstream-*.ts) against a backend that writes raw
// bytes: what a lenient client would pass on (bad framing, invalid bytes) is a 502, a backend that
// closes mid-body cuts the client's response, a keep-alive connection the backend closed while
// idle loses no request, and chunked SSE events are forwarded one by one.

const call = (id: number) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: {} } })
const result = (id: number) => JSON.stringify({ jsonrpc: '2.0', id, result: {} })
const json = (body: string, extra = '') =>
  `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`
const chunk = (text: string) => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`
const event = (n: number) => `event: message\ndata: {"n":${n}}\n\n`

const UNREACHABLE = { error: 'upstream_unreachable', error_description: 'The MCP server could not be reached' }

describe('the upstream client against a raw backend', () => {
  let backend: TcpBackend
  let gateway: KeyFileGateway
  /** What the backend does, by JSON-RPC id. */
  const behaviours = new Map<number, (socket: Socket) => unknown>()

  before(async () => {
    backend = await startTcpBackend((socket, { body }) => {
      const id = (JSON.parse(body) as { id: number }).id
      const behaviour = behaviours.get(id)
      if (behaviour === undefined) socket.write('HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n')
      else void behaviour(socket)
    })
    gateway = await startKeyFileGateway({ backend: backend.origin })
  })
  after(async () => {
    await gateway?.close()
    await backend?.close()
  })

  const post = async (id: number) =>
    send(gatewayMcpUrl(gateway), { method: 'POST', headers: mcpHeaders({ authorization: `Bearer ${await gateway.token()}` }), body: call(id) })


  test('a JSON response passes through, and its connection is reused', async () => {
    behaviours.set(1, (socket) => socket.write(json(result(1))))
    behaviours.set(2, (socket) => socket.write(json(result(2))))
    const first = await post(1)
    const second = await post(2)
    assert.equal(first.status, 200)
    assert.equal(first.body, result(1))
    assert.equal(second.body, result(2))
    const [a, b] = backend.requests.slice(-2)
    assert.equal(a?.connection, b?.connection)
    assert.match(a?.head ?? '', /^POST \/mcp HTTP\/1\.1\r\nhost: 127\.0\.0\.1:\d+\r\n/)
    assert.doesNotMatch(a?.head ?? '', /authorization/i)
  })

  test('bad framing (Content-Length with Transfer-Encoding, conflicting lengths): 502, the connection dropped, a notice says why', async () => {
    const notices: string[] = []
    const onNotice = (message: unknown) => notices.push((message as NoticeEvent).message)
    subscribe('mcp-gateway:notice', onNotice)
    const answers = [
      `HTTP/1.1 200 OK\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      `HTTP/1.1 200 OK\r\nContent-Length: 6\r\nContent-Length: 7\r\n\r\n${result(1).slice(0, 7)}`,
      `HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n`,
    ]
    for (const [i, answer] of answers.entries()) {
      behaviours.set(10 + i, (socket) => socket.write(answer))
      const before = backend.requests.length
      const refused = await post(10 + i)
      assert.equal(refused.status, 502, answer)
      assert.deepEqual(JSON.parse(refused.body), UNREACHABLE)
      // The connection that carried it is not reused: the next request opens another.
      behaviours.set(20 + i, (socket) => socket.write(json(result(20 + i))))
      assert.equal((await post(20 + i)).status, 200)
      assert.notEqual(backend.requests[before + 1]?.connection, backend.requests[before]?.connection)
    }
    unsubscribe('mcp-gateway:notice', onNotice)
    // One notice: the next ones within 10 s are held back.
    assert.deepEqual(notices, ['bad response from the backend: both Content-Length and Transfer-Encoding in a response'])
  })

  test('invalid bytes in the response head: 502', async () => {
    for (const [i, head] of ['X-Bad: a\x01b', 'X-Fold: a\r\n b', 'Bad Name: x', 'X-Cr: a\rb'].entries()) {
      behaviours.set(30 + i, (socket) => socket.write(`HTTP/1.1 200 OK\r\n${head}\r\nContent-Length: 2\r\n\r\n{}`))
      const refused = await post(30 + i)
      assert.equal(refused.status, 502, JSON.stringify(head))
      assert.deepEqual(JSON.parse(refused.body), UNREACHABLE)
    }
  })

  test('interim 1xx responses are skipped, the final one forwarded', async () => {
    behaviours.set(40, (socket) => socket.write(`HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n${json(result(40))}`))
    const response = await post(40)
    assert.equal(response.status, 200)
    assert.equal(response.body, result(40))
    assert.equal(response.headers['link'], undefined)
  })

  test('a backend that closes mid-body: the client response is cut off, never completed', async () => {
    behaviours.set(50, (socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"jsonrpc":')
      setTimeout(() => socket.destroy(), 50)
    })
    const { response } = openRequest(gatewayMcpUrl(gateway), {
      method: 'POST',
      headers: mcpHeaders({ authorization: `Bearer ${await gateway.token()}` }),
      body: call(50),
    })
    const head = await response
    assert.equal(head.statusCode, 200)
    const outcome = await readToEnd(head)
    assert.equal(outcome.complete, false, 'a truncated body was passed off as complete')
    assert.equal(outcome.text, '{"jsonrpc":')
    // Not retried: the backend saw the request once.
    await sleep(50)
    assert.equal(backend.requests.filter((r) => r.body === call(50)).length, 1)
  })

  test('a backend that resets mid-body is recorded as upstream_reset (decision error) in the event, access line, audit and metrics', async () => {
    const seen: DecisionEvent[] = []
    const collect = (message: unknown) => seen.push(message as DecisionEvent)
    const metrics = createMetrics({ calls: mcpCallPaths(gateway.config), defaultMetrics: false })
    events.decision.subscribe(collect)
    try {
      behaviours.set(51, (socket) => {
        socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n')
        socket.write(chunk(event(1)))
        setTimeout(() => socket.resetAndDestroy(), 50)
      })
      const { response } = openRequest(gatewayMcpUrl(gateway), {
        method: 'POST',
        headers: mcpHeaders({ authorization: `Bearer ${await gateway.token()}`, 'x-request-id': 'reset-51' }),
        body: call(51),
      })
      const head = await response
      assert.equal(head.statusCode, 200)
      const outcome = await readToEnd(head)
      assert.equal(outcome.complete, false)
      assert.equal(outcome.text, event(1))
      await waitFor(() => seen.some((e) => e.requestId === 'reset-51'), 'the decision event')
      const recorded = seen.find((e) => e.requestId === 'reset-51') as DecisionEvent
      assert.equal(recorded.reason, 'upstream_reset')
      assert.equal(recorded.decision, 'error')
      assert.equal(recorded.status, 200)
      assert.equal(accessLine(recorded).reason, 'upstream_reset')
      assert.equal(accessLine(recorded).decision, 'error')
      assert.match(auditLine(recorded), /"decision":"error","reason":"upstream_reset"/)
      const text = await metrics.render()
      assert.match(text, /^mcp_upstream_outcome_total\{reason="upstream_reset"\} 1$/m)
      assert.match(text, /^mcp_requests_total\{decision="error",status="200"\} 1$/m)
    } finally {
      events.decision.unsubscribe(collect)
      metrics.close()
    }
  })

  test('an idle keep-alive connection the backend closes loses no request', async () => {
    behaviours.set(60, (socket) => {
      socket.write(json(result(60)))
      setTimeout(() => socket.end(), 30)
    })
    assert.equal((await post(60)).status, 200)
    const connections = backend.connections()
    await sleep(150)
    behaviours.set(61, (socket) => socket.write(json(result(61))))
    const next = await post(61)
    assert.equal(next.status, 200)
    assert.equal(next.body, result(61))
    assert.equal(backend.connections(), connections + 1)
  })

  test('chunked SSE: each event reaches the client as the backend writes it', async () => {
    let secondAt = 0
    behaviours.set(70, async (socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n')
      await sleep(200)
      socket.write(chunk(event(1)))
      await sleep(400)
      secondAt = Date.now()
      socket.write(chunk(event(2)))
      await sleep(100)
      socket.write('0\r\n\r\n')
    })
    const { response } = openRequest(gatewayMcpUrl(gateway), {
      method: 'POST',
      headers: mcpHeaders({ authorization: `Bearer ${await gateway.token()}` }),
      body: call(70),
    })
    const headAt = Date.now()
    const head = await response
    // Headers are flushed before the first event exists.
    assert.ok(Date.now() - headAt < 190, 'the head waited for the first event')
    assert.equal(head.headers['content-type'], 'text/event-stream')
    const chunks: { at: number; text: string }[] = []
    for await (const piece of head) chunks.push({ at: Date.now(), text: String(piece) })
    assert.equal(chunks.map((c) => c.text).join(''), event(1) + event(2))
    const first = chunks.find((c) => c.text.includes('"n":1'))
    assert.ok(first !== undefined && !first.text.includes('"n":2'), 'the two events arrived together')
    assert.ok(secondAt - first.at >= 200, `first event only ${secondAt - first.at} ms before the second was written`)
  })
})

describe('a filtered JSON list from a raw backend', () => {
  let backend: TcpBackend
  let gateway: KeyFileGateway
  let temp: { dir: string; remove(): Promise<void> }
  let answer: (socket: Socket) => unknown = () => undefined
  const TOOLS = [{ name: 'echo', inputSchema: { type: 'object' } }, { name: 'add', inputSchema: { type: 'object' } }]
  const listed = (tools: unknown[]) => JSON.stringify({ jsonrpc: '2.0', id: 7, result: { tools } })
  const LIST = JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list' })

  before(async () => {
    backend = await startTcpBackend((socket) => void answer(socket))
    temp = await makeTempDir()
    const policy = join(temp.dir, 'policy.yaml')
    await writeFile(policy, stringify({ scopes: { required: ['mcp'], tools: { add: ['math'] }, filterLists: true } }))
    gateway = await startKeyFileGateway({ backend: backend.origin, env: { MCP_CONFIG: policy } })
  })
  after(async () => {
    await gateway?.close()
    await backend?.close()
    await temp?.remove()
  })

  const list = async () =>
    send(gatewayMcpUrl(gateway), { method: 'POST', headers: mcpHeaders({ authorization: `Bearer ${await gateway.token({ scope: 'mcp' })}` }), body: LIST })

  test('held whole across chunks, then sent filtered with its own Content-Length', async () => {
    const body = listed(TOOLS)
    answer = async (socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n')
      for (const piece of [body.slice(0, 20), body.slice(20, 60), body.slice(60)]) {
        socket.write(chunk(piece))
        await sleep(5)
      }
      socket.write('0\r\n\r\n')
    }
    const response = await list()
    assert.equal(response.status, 200)
    assert.equal(response.body, listed(TOOLS.slice(0, 1)))
    assert.equal(response.headers['content-length'], String(Buffer.byteLength(response.body)))
    assert.equal(response.headers['transfer-encoding'], undefined)
  })

  test('a backend that closes before the list is whole: a 502, nothing of the list sent', async () => {
    answer = (socket) => {
      const body = listed(TOOLS)
      socket.end(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length + 10}\r\n\r\n${body}`)
    }
    const response = await list()
    assert.equal(response.status, 502)
    assert.deepEqual(JSON.parse(response.body), UNREACHABLE)
  })

  test('a list larger than 16 MiB cannot be filtered: a 502 (fail closed), and the next list is served', async () => {
    const padding = 'x'.repeat(16 * 1024 * 1024)
    answer = (socket) => socket.write(json(listed([...TOOLS, { name: 'big', description: padding }])))
    const response = await list()
    assert.equal(response.status, 502)
    assert.ok(!response.body.includes('add'), 'nothing of the list reached the client')
    answer = (socket) => socket.write(json(listed(TOOLS)))
    assert.equal((await list()).body, listed(TOOLS.slice(0, 1)))
  })
})

describe('the connections cap', () => {
  let backend: TcpBackend
  let gateway: KeyFileGateway
  let removeDir: () => Promise<void>
  const held: Socket[] = []

  before(async () => {
    backend = await startTcpBackend((socket) => held.push(socket))
    const temp = await makeTempDir()
    removeDir = temp.remove
    const file = join(temp.dir, 'gateway.yaml')
    await writeFile(file, stringify({ backend: { url: backend.origin, connections: 1 } }))
    gateway = await startKeyFileGateway({ backend: backend.origin, env: { MCP_CONFIG: file } })
  })
  after(async () => {
    await gateway?.close()
    await backend?.close()
    await removeDir?.()
  })

  test('requests beyond backend.connections wait for the connection, then use it', async () => {
    const token = await gateway.token()
    const posts = [1, 2, 3].map((id) =>
      send(gatewayMcpUrl(gateway), { method: 'POST', headers: mcpHeaders({ authorization: `Bearer ${token}` }), body: call(id) }),
    )
    for (let answered = 0; answered < 3; answered++) {
      await waitFor(() => held.length > 0, 'a request at the backend')
      await sleep(50)
      assert.equal(backend.requests.length, answered + 1, 'more requests in flight than connections')
      const id = (JSON.parse(backend.requests[answered]?.body ?? '{}') as { id: number }).id
      held.shift()?.write(json(result(id)))
    }
    const responses = await Promise.all(posts)
    assert.deepEqual(responses.map((r) => r.status), [200, 200, 200])
    assert.deepEqual(responses.map((r) => JSON.parse(r.body) as { id: number }).map((r) => r.id), [1, 2, 3])
    assert.equal(backend.connections(), 1)
  })
})

describe('an https backend', () => {
  let fx: OpsFixture
  let server: ReturnType<typeof createHttpsServer>
  const sessions: boolean[] = []

  before(async () => {
    fx = await createOpsFixture()
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', join(fx.dir, 'backend.key'), '-out', join(fx.dir, 'backend.crt'), '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1',
    ], { stdio: 'ignore' })
    server = createHttpsServer({ key: readFileSync(join(fx.dir, 'backend.key')), cert: readFileSync(join(fx.dir, 'backend.crt')) }, (req, res) => {
      req.resume()
      req.once('end', () => {
        res.writeHead(200, { 'content-type': 'application/json', connection: 'close' })
        res.end(result(1))
      })
    })
    server.on('secureConnection', (socket) => sessions.push(socket.isSessionReused()))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  })
  after(async () => {
    server?.closeAllConnections()
    await new Promise((resolve) => server?.close(resolve))
    await fx?.close()
  })

  test('reached over TLS, certificate verified against the trusted CAs (NODE_EXTRA_CA_CERTS), sessions resumed', async () => {
    const { port } = server.address() as AddressInfo
    const config = await fx.writeConfig({ backend: { url: `https://127.0.0.1:${port}` } })
    const gw = spawnServe(['--config', config], { MCP_AUDIT_LOG: 'off', NODE_EXTRA_CA_CERTS: join(fx.dir, 'backend.crt') }, 'https-backend')
    try {
      await gw.waitForLine((line) => line.msg === 'listening', 'the gateway to listen')
      const token = await fx.token('mcp:read')
      // `Connection: close` from the backend: each request opens a new TLS connection.
      for (let i = 0; i < 2; i++) {
        const response = await send(`http://127.0.0.1:${fx.port}/mcp`, {
          method: 'POST',
          headers: mcpHeaders({ authorization: `Bearer ${token}` }),
          body: LIST_TOOLS,
        })
        assert.equal(response.status, 200, response.body)
        assert.equal(response.body, result(1))
      }
      assert.deepEqual(sessions, [false, true], 'the second connection did not resume the first TLS session')
    } finally {
      await gw.kill()
    }
  })
})

async function readToEnd(response: IncomingMessage): Promise<{ text: string; complete: boolean }> {
  let text = ''
  return new Promise((resolve) => {
    response.on('data', (piece: Buffer) => {
      text += String(piece)
    })
    response.once('end', () => resolve({ text, complete: response.complete }))
    response.once('error', () => resolve({ text, complete: false }))
    response.once('aborted', () => resolve({ text, complete: false }))
  })
}

describe("an MCP SDK backend's own step-up challenge", () => {
  let backend: McpBackend
  let gateway: KeyFileGateway
  const seen: DecisionEvent[] = []
  const collect = (message: unknown) => seen.push(message as DecisionEvent)

  before(async () => {
    // The SDK's bearer middleware in front of its MCP server, as a backend that checks scopes itself
    // (typescript-sdk#1624). The gateway never forwards the client's token, so this backend is
    // handed an identity of its own that holds `mcp:read` only.
    const checkScopes = requireBearerAuth({
      verifier: { verifyAccessToken: async (token) => ({ token, clientId: 'gateway', scopes: ['mcp:read'], expiresAt: Date.now() / 1000 + 3600 }) },
      requiredScopes: ['repo:admin', 'offline_access'],
      resourceMetadataUrl: 'http://127.0.0.1:1/.well-known/oauth-protected-resource/backend',
    })
    backend = await startMcpBackend({
      mode: 'stateless',
      intercept: (req, res) =>
        new Promise<boolean>((resolve) => {
          req.headers.authorization = 'Bearer backend-identity'
          // The few express response methods the middleware uses.
          const reply = {
            set: (name: string, value: string) => res.setHeader(name, value),
            status: (code: number) => ({
              json: (body: unknown) => {
                res.writeHead(code, { 'content-type': 'application/json' })
                res.end(JSON.stringify(body))
                resolve(true)
              },
            }),
          }
          void checkScopes(req as never, reply as never, () => resolve(false))
        }),
    })
    gateway = await startKeyFileGateway({ backend: backend.origin })
    events.decision.subscribe(collect)
  })
  after(async () => {
    events.decision.unsubscribe(collect)
    await gateway?.close()
    await backend?.close()
  })

  test('relayed as one challenge whose resource_metadata is the gateway\'s, and recorded as upstream_insufficient_scope', async () => {
    const metrics = createMetrics({ calls: mcpCallPaths(gateway.config), defaultMetrics: false })
    try {
      const response = await send(gatewayMcpUrl(gateway), {
        method: 'POST',
        headers: mcpHeaders({ authorization: `Bearer ${await gateway.token()}`, 'x-request-id': 'step-up-1' }),
        body: call(1),
      })
      assert.equal(response.status, 403)
      assert.equal(backend.requests.length, 1)
      assert.deepEqual(headerLines(response, 'www-authenticate'), [
        `Bearer error="insufficient_scope", scope="repo:admin", resource_metadata="${gateway.config.resource.metadataUri}", error_description="Insufficient scope"`,
      ])
      await waitFor(() => seen.some((e) => e.requestId === 'step-up-1'), 'the decision event')
      const recorded = seen.find((e) => e.requestId === 'step-up-1') as DecisionEvent
      assert.equal(recorded.reason, 'upstream_insufficient_scope')
      assert.equal(recorded.decision, 'deny')
      assert.match(await metrics.render(), /^mcp_upstream_outcome_total\{reason="upstream_insufficient_scope"\} 1$/m)
    } finally {
      metrics.close()
    }
  })
})

describe("a backend's other challenges", () => {
  let backend: TcpBackend
  let gateway: KeyFileGateway

  before(async () => {
    // A backend that answers 401 with a challenge naming its own metadata, as an SDK server does.
    backend = await startTcpBackend((socket) => {
      const body = '{"error":"invalid_token"}'
      socket.end(
        'HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\n' +
          'www-authenticate: Bearer error="invalid_token", resource_metadata="http://127.0.0.1:1/.well-known/oauth-protected-resource/backend"\r\n' +
          `content-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
      )
    })
    gateway = await startKeyFileGateway({ backend: backend.origin })
  })
  after(async () => {
    await gateway?.close()
    await backend?.close()
  })

  test("a backend 401's own challenge is not passed on: the client is never sent to the backend's metadata", async () => {
    const response = await send(gatewayMcpUrl(gateway), {
      method: 'POST',
      headers: mcpHeaders({ authorization: `Bearer ${await gateway.token()}` }),
      body: call(1),
    })
    assert.equal(response.status, 401)
    assert.deepEqual(headerLines(response, 'www-authenticate'), [])
  })
})
