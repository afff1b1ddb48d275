import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { loadConfig } from '../../src/config/load.js'
import { attachLogger, createLogger, logNotices } from '../../src/observability/log.js'
import { startGateway, type RunningGateway } from '../../src/server/http.js'
import { spawnServe } from '../support/cli-process.js'
import { send } from '../support/gateway.js'
import { recordSecret } from '../support/log-capture.js'
import { callTool, createOpsFixture, LIST_TOOLS, postStreaming, type OpsFixture } from '../support/ops-fixture.js'

/**
 * The access log of a real gateway at debug level: one JSON line per request with the fields an
 * operator searches by, and nothing secret (no token, no Authorization value, no argument value).
 */

function memoryStream(): { stream: Writable; text(): string; lines(): Array<Record<string, unknown>> } {
  let text = ''
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      text += chunk.toString('utf8')
      callback()
    },
  })
  return {
    stream,
    text: () => text,
    lines: () => text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>),
  }
}

describe('access log', () => {
  let fx: OpsFixture
  let gateway: RunningGateway
  const out = memoryStream()
  let detach: () => void

  before(async () => {
    fx = await createOpsFixture()
    const file = await fx.writeConfig({ scopes: { required: ['mcp:read'], tools: { delete_repo: ['mcp:admin'] } } })
    const config = await loadConfig({ argv: ['--config', file], env: {} })
    detach = attachLogger(createLogger('debug', out.stream))
    gateway = await startGateway(config)
  })
  after(async () => {
    detach?.()
    await gateway?.close({ timeoutMs: 0 })
    await fx?.close()
  })

  test('one line per request with method, path, status, duration, MCP method, tool, sub, client_id, reason', async () => {
    const token = await fx.token('mcp:read')
    const expired = await fx.token('mcp:read', { exp: Math.floor(Date.now() / 1000) - 3600, iat: Math.floor(Date.now() / 1000) - 7200 })
    const canary = `argument-canary-${Date.now()}`
    recordSecret(canary)
    const mcp = `${gateway.url}/mcp`

    const sent: Array<{ id: string; status: number }> = []
    const post = async (body: string, authorization?: string) => {
      const res = await postStreaming(mcp, body, authorization === undefined ? {} : { authorization })
      await res.ended
      sent.push({ id: String(res.headers['x-request-id']), status: res.status })
    }
    await post(callTool('echo', { text: canary }), `Bearer ${token}`)
    await post(LIST_TOOLS)
    await post(LIST_TOOLS, `Bearer ${expired}`)
    await post(LIST_TOOLS, `Basic ${Buffer.from(`client:${canary}`).toString('base64')}`)
    await post(callTool('delete_repo', { name: canary }), `Bearer ${token}`)
    const metadata = await send(`${gateway.url}/.well-known/oauth-protected-resource/mcp`)
    sent.push({ id: String(metadata.headers['x-request-id']), status: metadata.status })
    const missing = await send(`${gateway.url}/nowhere?access_token=${token}`)
    sent.push({ id: String(missing.headers['x-request-id']), status: missing.status })
    await new Promise((resolve) => setTimeout(resolve, 50))

    const access = out.lines().filter((l) => l.msg === 'request')
    assert.deepEqual(access.map((l) => l.requestId).sort(), sent.map((s) => s.id).sort(), 'one line per request')
    const byId = new Map(access.map((l) => [l.requestId, l]))
    for (const s of sent) assert.equal(byId.get(s.id)?.status, s.status)
    assert.ok(access.every((l) => l.level === 'info' && typeof l.durationMs === 'number' && typeof l.time === 'string'))

    const allowed = byId.get(sent[0]?.id)
    assert.equal(allowed?.method, 'POST')
    assert.equal(allowed?.path, '/mcp')
    assert.equal(allowed?.mcpMethod, 'tools/call')
    assert.equal(allowed?.tool, 'echo')
    assert.equal(allowed?.sub, 'user-42')
    assert.equal(allowed?.client_id, 'ops-client')
    assert.equal(allowed?.decision, 'allow')
    assert.equal(typeof allowed?.upstreamMs, 'number')
    assert.deepEqual(
      sent.slice(1, 5).map((s) => byId.get(s.id)?.reason),
      ['no_credentials', 'expired', 'no_credentials', 'insufficient_scope'],
    )
    assert.equal(byId.get(sent[4]?.id)?.tool, 'delete_repo')
    assert.equal(byId.get(sent[6]?.id)?.path, '/nowhere', 'the query string is not logged')

    const text = out.text()
    assert.ok(!text.includes(token), 'the token is in the log')
    assert.ok(!text.includes(expired), 'the expired token is in the log')
    assert.ok(!text.includes(canary), 'an argument value or a Basic secret is in the log')
    assert.ok(!/authorization/i.test(text), 'an Authorization header is in the log')
  })
})

describe('start-up warnings', () => {
  let fx: OpsFixture
  before(async () => {
    fx = await createOpsFixture()
  })
  after(async () => {
    await fx?.close()
  })

  test('TLS off on a non-loopback address is a warning; on loopback it is not', async () => {
    const exposed = await loadConfig({ argv: ['--config', await fx.writeConfig({ listen: { host: '0.0.0.0', port: 8080 } })], env: {} })
    const out = memoryStream()
    logNotices(createLogger('info', out.stream), exposed)
    const warning = out.lines().find((l) => String(l.msg).startsWith('TLS is off while listening on 0.0.0.0'))
    assert.equal(warning?.level, 'warn')
    assert.match(String(warning?.msg), /trust boundary/)

    const local = await loadConfig({ argv: ['--config', await fx.writeConfig()], env: {} })
    assert.ok(!local.notices.some((n) => n.startsWith('TLS is off')))
  })

  test('serve logs the configuration notices before listening', async () => {
    const gw = spawnServe(['--config', await fx.writeConfig()], { MCP_RESOLVER: '127.0.0.53', MCP_AUDIT_LOG: 'off' }, 'notices')
    try {
      const listening = await gw.waitForLine((l) => l.msg === 'listening', 'listening')
      const notice = gw.lines.find((l) => String(l.msg).startsWith('MCP_RESOLVER is ignored'))
      // Another program's variable: nothing to fix, so info, not a warning.
      assert.equal(notice?.level, 'info')
      assert.ok(gw.lines.indexOf(notice as Record<string, unknown>) < gw.lines.indexOf(listening))
      gw.signal('SIGTERM')
      assert.equal(await gw.exited, 0)
    } finally {
      await gw.kill()
    }
  })

  test('serve: the lines of requests answered just before SIGTERM are all on stdout (buffered, written at the drain)', async () => {
    const gw = spawnServe(['--config', await fx.writeConfig({ scopes: { required: ['mcp:read'] } })], { MCP_AUDIT_LOG: 'stdout' }, 'shutdown-flush')
    try {
      await gw.waitForLine((l) => l.msg === 'listening', 'listening')
      const token = await fx.token('mcp:read')
      const ids: string[] = []
      for (let i = 0; i < 20; i++) {
        const res = await postStreaming(`http://127.0.0.1:${fx.port}/mcp`, LIST_TOOLS, { authorization: `Bearer ${token}` })
        await res.ended
        ids.push(String(res.headers['x-request-id']))
      }
      gw.signal('SIGTERM')
      assert.equal(await gw.exited, 0)
      const access = gw.lines.filter((l) => l.msg === 'request').map((l) => l.requestId)
      const audit = gw.lines.filter((l) => l.audit === 'mcp.decision').map((l) => l.requestId)
      assert.deepEqual(access.sort(), [...ids].sort())
      assert.deepEqual(audit.sort(), [...ids].sort())
      assert.equal(gw.lines.at(-1)?.msg, 'stopped')
    } finally {
      await gw.kill()
    }
  })
})
