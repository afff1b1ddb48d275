import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, request, Agent, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { loadConfig } from '../../../src/config/load.js'
import { drainServer, restartOnlyChanges, serialize } from '../../../src/server/lifecycle.js'

const BASE_ENV = {
  MCP_CANONICAL_URI: 'http://127.0.0.1:8080/mcp',
  MCP_AUTHORIZATION_SERVER: 'https://as.example',
  MCP_JWKS_URI: 'https://as.example/jwks',
  MCP_BACKEND: '127.0.0.1:3000',
  MCP_LISTEN_HOST: '127.0.0.1',
  MCP_LISTEN_PORT: '8080',
}

describe('serialize', () => {
  test('runs one at a time; calls during a run cause exactly one more run', async () => {
    let runs = 0
    let active = 0
    let release: () => void = () => {}
    const task = serialize(async () => {
      active++
      assert.equal(active, 1, 'two runs overlapped')
      runs++
      await new Promise<void>((resolve) => {
        release = resolve
      })
      active--
    })
    const first = task()
    const second = task()
    const third = task()
    assert.equal(runs, 1)
    release()
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(runs, 2, 'the calls made during the first run were merged into one')
    release()
    await Promise.all([first, second, third])
    assert.equal(runs, 2)
    const fourth = task()
    release()
    await fourth
    assert.equal(runs, 3)
  })
})

describe('restartOnlyChanges', () => {
  test('names the bound or forked settings that changed, nothing else', async () => {
    const running = await loadConfig({ env: BASE_ENV })
    assert.deepEqual(restartOnlyChanges(running, await loadConfig({ env: { ...BASE_ENV, MCP_REQUIRED_SCOPE: 'a' } })), [])
    const next = await loadConfig({
      env: { ...BASE_ENV, MCP_LISTEN_PORT: '9090', MCP_WORKER_PROCESSES: '2', MCP_ADMIN_PORT: '9100', MCP_METRICS_ON_MAIN_PORT: 'on' },
    })
    assert.deepEqual(restartOnlyChanges(running, next), ['listen.port', 'workers', 'admin.port', 'metrics.onMainPort'])
  })

  test('the lockout, trusted proxies and the shared Redis of revocations are built at start', async () => {
    const running = await loadConfig({ env: BASE_ENV })
    const next = await loadConfig({
      env: { ...BASE_ENV, MCP_AUTH_FAILURE_LIMIT: '5/5m', MCP_TRUSTED_PROXIES: '10.0.0.0/8', MCP_REDIS_URL: '127.0.0.1:6379' },
    })
    assert.deepEqual(restartOnlyChanges(running, next), ['authFailures', 'trustedProxies', 'redis.url (revocations, lockout)'])
  })
})

describe('drainServer', () => {
  async function serve(handler: (req: IncomingMessage, res: import('node:http').ServerResponse) => void) {
    const server = createServer(handler)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    return { server, port: (server.address() as AddressInfo).port }
  }
  function get(port: number, agent: Agent | false): Promise<{ status: number; connection: string | undefined; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => (body += c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body }))
        res.on('error', reject)
      })
      req.on('error', reject)
      req.end()
    })
  }

  test('an in-flight response finishes, new connections are refused, the idle keep-alive connection is closed', async () => {
    let finish: () => void = () => {}
    let arrived: () => void = () => {}
    const slowArrived = new Promise<void>((resolve) => {
      arrived = resolve
    })
    const { server, port } = await serve((req, res) => {
      if (req.headers['x-slow'] === undefined) return void res.end('quick')
      res.write('part ')
      finish = () => res.end('done')
      arrived()
    })
    const agent = new Agent({ keepAlive: true })
    assert.equal((await get(port, agent)).body, 'quick')
    const slow = new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/', agent: false, headers: { 'x-slow': '1' } }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => (body += c))
        res.on('end', () => resolve(body))
      })
      req.on('error', reject)
      req.end()
    })
    await slowArrived

    // Resolves only once every connection is closed, the pooled keep-alive one included.
    const drained = drainServer(server, 5000)
    await assert.rejects(get(port, false), (e: NodeJS.ErrnoException) => e.code === 'ECONNREFUSED')
    finish()
    assert.equal(await slow, 'part done')
    assert.deepEqual(await drained, { forced: false })
    agent.destroy()
  })

  test('at the deadline what is still open is cut', async () => {
    const { server, port } = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write('data: 1\n\n')
    })
    const ended = new Promise<string>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
        res.resume()
        res.on('close', () => resolve(res.complete ? 'complete' : 'cut'))
      })
      req.on('error', () => resolve('cut'))
      req.end()
    })
    await new Promise((r) => setTimeout(r, 50))
    const started = Date.now()
    assert.deepEqual(await drainServer(server, 200), { forced: true })
    assert.ok(Date.now() - started >= 190)
    assert.equal(await ended, 'cut')
  })
})
