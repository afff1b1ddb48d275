import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createServer as createTlsServer } from 'node:tls'
import type { AddressInfo, Socket } from 'node:net'
import { requestBytes } from '../../../src/proxy/request-bytes.js'
import type { UpstreamConnection } from '../../../src/proxy/upstream-connection.js'
import { UpstreamFailure, type UpstreamExchange } from '../../../src/proxy/upstream-exchange.js'
import { UpstreamPool, type UpstreamPoolOptions } from '../../../src/proxy/upstream-pool.js'
import { startTcpBackend, type TcpBackend } from '../../support/tcp-backend.js'

// The pool against a backend that writes its own bytes: reuse, the connection cap, a backend that
// closes (idle, mid-body, as a request arrives), timeouts, close. A request is never sent twice.

interface Outcome {
  status?: number
  body: string
  error?: Error
}

class TestExchange implements UpstreamExchange {
  readonly method: string
  readonly bytes: Buffer
  connection: UpstreamConnection | undefined
  status: number | undefined
  body = ''
  readonly done: Promise<Outcome>
  #settle!: (outcome: Outcome) => void

  constructor(method: string, path = '/mcp', body?: string) {
    this.method = method
    this.bytes = requestBytes(method, path, 'backend', {}, body === undefined ? undefined : Buffer.from(body))
    this.done = new Promise((resolve) => {
      this.#settle = resolve
    })
  }

  onHead(head: { status: number }): void {
    this.status = head.status
  }

  onBody(chunk: Buffer): void {
    this.body += chunk.toString()
  }

  onEnd(): void {
    this.#settle({ ...(this.status === undefined ? {} : { status: this.status }), body: this.body })
  }

  onError(error: Error): void {
    this.#settle({ ...(this.status === undefined ? {} : { status: this.status }), body: this.body, error })
  }
}

const OK = (body: string, extra = '') => `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n${extra}\r\n${body}`
const pools: UpstreamPool[] = []
const backends: TcpBackend[] = []

function pool(origin: string, options: Partial<UpstreamPoolOptions> = {}): UpstreamPool {
  const created = new UpstreamPool({ origin, connections: 4, connectTimeout: 2000, headersTimeout: 5000, bodyTimeout: 0, ...options })
  pools.push(created)
  return created
}

async function backend(answer: Parameters<typeof startTcpBackend>[0]): Promise<TcpBackend> {
  const started = await startTcpBackend(answer)
  backends.push(started)
  return started
}

async function send(target: UpstreamPool, method = 'POST', body = '{}'): Promise<Outcome> {
  const exchange = new TestExchange(method, '/mcp', body)
  target.request(exchange)
  return exchange.done
}

after(async () => {
  for (const p of pools) await p.close()
  for (const b of backends) await b.close()
})

describe('UpstreamPool', () => {
  test('keep-alive: sequential requests share one connection; the request goes out whole', async () => {
    const b = await backend((socket, { index }) => socket.write(OK(`r${index}`)))
    const p = pool(b.origin)
    for (let i = 0; i < 3; i++) assert.deepEqual(await send(p, 'POST', `{"i":${i}}`), { status: 200, body: `r${i}` })
    assert.equal(b.connections(), 1)
    assert.deepEqual(b.requests.map((r) => r.body), ['{"i":0}', '{"i":1}', '{"i":2}'])
    assert.match(b.requests[0]?.head ?? '', /^POST \/mcp HTTP\/1\.1\r\nhost: backend\r\n/)
  })

  test('the connections cap: requests beyond it wait in order, then reuse the freed connection', async () => {
    const pending: Socket[] = []
    const b = await backend((socket) => pending.push(socket))
    const p = pool(b.origin, { connections: 1 })
    const outcomes = [send(p), send(p), send(p)]
    for (let answered = 0; answered < 3; answered++) {
      const deadline = Date.now() + 2000
      while (pending.length === 0 && Date.now() < deadline) await sleep(5)
      assert.equal(b.requests.length, answered + 1, 'a request went out while the only connection was busy')
      pending.shift()?.write(OK(`r${answered}`))
      await sleep(20)
    }
    assert.deepEqual((await Promise.all(outcomes)).map((o) => o.body), ['r0', 'r1', 'r2'])
    assert.equal(b.connections(), 1)
  })

  test('an idle connection the backend closed is never handed a request', async () => {
    const b = await backend((socket, { index }) => {
      socket.write(OK(`r${index}`))
      // The backend's own idle timer: it closes soon after answering.
      setTimeout(() => socket.end(), 30)
    })
    const p = pool(b.origin)
    assert.equal((await send(p)).body, 'r0')
    await sleep(150)
    assert.deepEqual(await send(p), { status: 200, body: 'r1' })
    assert.equal(b.connections(), 2)
    assert.equal(b.requests.length, 2)
  })

  test('Connection: close and a too-short Keep-Alive hint: the connection is not reused', async () => {
    const answers = [OK('a', 'Connection: close\r\n'), OK('b', 'Keep-Alive: timeout=1\r\n'), OK('c', 'Keep-Alive: timeout=30\r\n'), OK('d')]
    const b = await backend((socket, { index }) => socket.write(answers[index] as string))
    const p = pool(b.origin)
    const bodies = []
    for (let i = 0; i < 4; i++) bodies.push((await send(p)).body)
    assert.deepEqual(bodies, ['a', 'b', 'c', 'd'])
    // a: closed; b: a 1 s hint is under the 2 s margin, closed; c reused for d.
    assert.deepEqual(b.requests.map((r) => r.connection), [0, 1, 2, 2])
  })

  test('a connection idle past the keep-alive hint (less the margin) is closed, not reused', async () => {
    const b = await backend((socket, { index }) => socket.write(OK(`r${index}`, 'Keep-Alive: timeout=3\r\n')))
    const p = pool(b.origin)
    await send(p)
    await send(p)
    // timeout=3 less the 2 s margin: kept 1 s.
    await sleep(1400)
    await send(p)
    assert.deepEqual(b.requests.map((r) => r.connection), [0, 0, 1])
    assert.equal(b.open().length, 1, 'the expired connection was left open')
  })

  test('a backend that closes mid-body: the request fails, is not retried, the connection is gone', async () => {
    const b = await backend((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf')
      setTimeout(() => socket.destroy(), 20)
    })
    const p = pool(b.origin)
    const outcome = await send(p)
    assert.equal(outcome.status, 200)
    assert.equal(outcome.body, 'half')
    assert.ok(outcome.error instanceof UpstreamFailure && outcome.error.code === 'closed', String(outcome.error))
    await sleep(50)
    assert.equal(b.requests.length, 1)
  })

  test('a reused connection closed as the request arrives: an error, never a second attempt', async () => {
    const b = await backend((socket, { index }) => {
      if (index === 0) socket.write(OK('first'))
      else socket.destroy()
    })
    const p = pool(b.origin)
    assert.equal((await send(p)).body, 'first')
    const outcome = await send(p)
    assert.ok(outcome.error !== undefined)
    assert.equal(outcome.status, undefined)
    await sleep(100)
    assert.equal(b.requests.length, 2, 'the POST was sent again')
  })

  test('bad framing: an error, and the connection is not reused', async () => {
    const answers = [`HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, OK('fine')]
    const b = await backend((socket, { index }) => socket.write(answers[index] as string))
    const p = pool(b.origin)
    const bad = await send(p)
    assert.ok(bad.error instanceof UpstreamFailure && bad.error.code === 'bad_response', String(bad.error))
    assert.match(bad.error.message, /both Content-Length and Transfer-Encoding/)
    assert.equal(bad.status, undefined)
    assert.equal((await send(p)).body, 'fine')
    assert.deepEqual(b.requests.map((r) => r.connection), [0, 1])
  })

  test('bytes from the backend while a connection is idle: the connection is dropped', async () => {
    const b = await backend((socket, { index }) => {
      socket.write(OK(`r${index}`))
      if (index === 0) setTimeout(() => socket.write('HTTP/1.1 200 OK\r\n\r\n'), 20)
    })
    const p = pool(b.origin)
    await send(p)
    await sleep(80)
    assert.equal((await send(p)).body, 'r1')
    assert.deepEqual(b.requests.map((r) => r.connection), [0, 1])
  })

  test('headers timeout and body timeout', async () => {
    const b = await backend((socket, { index }) => {
      if (index === 1) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\npart')
    })
    const p = pool(b.origin, { headersTimeout: 100, bodyTimeout: 100 })
    const started = Date.now()
    const silent = await send(p)
    assert.ok(silent.error instanceof UpstreamFailure && silent.error.code === 'headers_timeout', String(silent.error))
    assert.ok(Date.now() - started >= 90)
    const stalled = await send(p)
    assert.equal(stalled.body, 'part')
    assert.ok(stalled.error instanceof UpstreamFailure && stalled.error.code === 'body_timeout', String(stalled.error))
  })

  test('connection refused: an error naming it', async () => {
    const b = await backend(() => {})
    const origin = b.origin
    await b.close()
    const outcome = await send(pool(origin))
    assert.equal((outcome.error as NodeJS.ErrnoException | undefined)?.code, 'ECONNREFUSED')
  })

  test('abort closes the backend connection (a client that went away cancels its request)', async () => {
    const b = await backend(() => {})
    const p = pool(b.origin)
    const exchange = new TestExchange('POST', '/mcp', '{}')
    p.request(exchange)
    const deadline = Date.now() + 2000
    while (b.requests.length === 0 && Date.now() < deadline) await sleep(5)
    exchange.connection?.abort(new Error('client gone'))
    assert.equal((await exchange.done).error?.message, 'client gone')
    await sleep(50)
    assert.equal(b.open().length, 0, 'the backend connection is still open')
  })

  test('a queued request withdrawn before a connection is free is never sent', async () => {
    const held: Socket[] = []
    const b = await backend((socket) => held.push(socket))
    const p = pool(b.origin, { connections: 1 })
    const first = send(p)
    const queued = new TestExchange('POST', '/mcp', '{"queued":true}')
    p.request(queued)
    assert.equal(p.cancel(queued), true)
    while (held.length === 0) await sleep(5)
    held[0]?.write(OK('one'))
    assert.equal((await first).body, 'one')
    await sleep(50)
    assert.deepEqual(b.requests.map((r) => r.body), ['{}'])
  })

  test('close: waits for the response in flight, then refuses new requests', async () => {
    const held: Socket[] = []
    const b = await backend((socket) => held.push(socket))
    const p = pool(b.origin)
    const inFlight = send(p)
    while (held.length === 0) await sleep(5)
    let closed = false
    const closing = p.close().then(() => {
      closed = true
    })
    await sleep(30)
    assert.equal(closed, false)
    held[0]?.write(OK('late'))
    assert.equal((await inFlight).body, 'late')
    await closing
    const refused = await send(p)
    assert.ok(refused.error instanceof UpstreamFailure && refused.error.code === 'pool_closed')
    await sleep(20)
    assert.equal(b.open().length, 0)
  })
})

describe('UpstreamPool over TLS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'upstream-tls-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  test('certificates are verified: a self-signed backend is refused before any request is sent', async () => {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1',
    ], { stdio: 'ignore' })
    let received = 0
    const server = createTlsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (socket) => {
      socket.on('data', () => received++)
      socket.on('error', () => {})
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = server.address() as AddressInfo
      const outcome = await send(pool(`https://127.0.0.1:${port}`))
      assert.match(String((outcome.error as NodeJS.ErrnoException | undefined)?.code), /SELF_SIGNED|UNABLE_TO_VERIFY|CERT/)
      assert.equal(received, 0)
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
