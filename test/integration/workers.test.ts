import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnServe, type CliProcess } from '../support/cli-process.js'
import { send } from '../support/gateway.js'
import { callTool, createOpsFixture, postStreaming, reservePort, type OpsFixture } from '../support/ops-fixture.js'

/**
 * MCP_WORKER_PROCESSES=2: two node:cluster workers answer on one port; the primary's admin
 * listener sums their metrics and asks each for readiness; SIGHUP and SIGTERM reach every worker.
 */
describe('worker processes', () => {
  let fx: OpsFixture
  let gw: CliProcess
  let adminPort: number

  before(async () => {
    fx = await createOpsFixture()
    adminPort = await reservePort()
    const config = await fx.writeConfig({ scopes: { required: ['mcp:read'] }, audit: { file: 'off' } })
    gw = spawnServe(['--config', config], { MCP_WORKER_PROCESSES: '2', MCP_ADMIN_PORT: String(adminPort) }, 'workers')
    await gw.waitForLine((l) => l.msg === 'listening' && l.worker === 'primary', 'the primary listening')
  })
  after(async () => {
    await gw?.kill()
    await fx?.close()
  })

  test('two workers answer on one port and the admin port sums their metrics', async () => {
    const token = await fx.token('mcp:read')
    const total = 20
    for (let i = 0; i < total; i++) {
      // A new connection each time: node:cluster hands connections to workers in turn.
      const res = await postStreaming(`http://127.0.0.1:${fx.port}/mcp`, callTool('echo', { text: `n${i}` }, i), { authorization: `Bearer ${token}` })
      await res.ended
      assert.equal(res.status, 200)
    }
    const access = () => gw.lines.filter((l) => l.msg === 'request' && l.path === '/mcp')
    for (let i = 0; i < 100 && access().length < total; i++) await new Promise((r) => setTimeout(r, 50))
    assert.equal(access().length, total)
    const workers = new Set(access().map((l) => l.worker))
    assert.deepEqual([...workers].sort(), [1, 2])

    const metrics = await send(`http://127.0.0.1:${adminPort}/metrics`)
    assert.equal(metrics.status, 200)
    const line = metrics.body.split('\n').find((l) => l.startsWith('mcp_requests_total{decision="allow",status="200"}'))
    assert.ok(line !== undefined, metrics.body.slice(0, 500))
    assert.equal(Number(line.split(' ').pop()), total)

    const ready = await send(`http://127.0.0.1:${adminPort}/readyz`)
    assert.equal(ready.status, 200)
  })

  test('SIGHUP reloads every worker; SIGTERM stops them all', async () => {
    const before = gw.lines.length
    gw.signal('SIGHUP')
    for (let i = 0; i < 200; i++) {
      if (gw.lines.slice(before).filter((l) => l.msg === 'configuration reloaded').length >= 2) break
      await new Promise((r) => setTimeout(r, 50))
    }
    const reloaded = gw.lines.slice(before).filter((l) => l.msg === 'configuration reloaded')
    assert.deepEqual(reloaded.map((l) => l.worker).sort(), [1, 2])

    gw.signal('SIGTERM')
    assert.equal(await gw.exited, 0)
    const stopped = gw.lines.filter((l) => l.msg === 'stopped').map((l) => l.worker)
    assert.deepEqual(stopped.sort(), [1, 2])
  })
})
