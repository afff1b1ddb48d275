import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadConfig } from '../../src/config/load.js'
import { ConfigError } from '../../src/errors.js'
import { createAuditTrail, mcpCallPaths, type AuditTrail } from '../../src/observability/audit.js'
import { startGateway, type RunningGateway } from '../../src/server/http.js'
import { spawnServe } from '../support/cli-process.js'
import { send } from '../support/gateway.js'
import { recordSecret } from '../support/log-capture.js'
import { callTool, createOpsFixture, eventually, LIST_TOOLS, postStreaming, type OpsFixture } from '../support/ops-fixture.js'

/**
 * The audit trail of a real gateway: one record per MCP call (allowed or refused, authenticated or
 * not) with who, what, the decision and the request id the client saw; no argument values; not
 * for metadata, health or CORS preflights.
 */

async function records(file: string): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(file, 'utf8').catch(() => '')
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)
}

describe('audit trail', () => {
  let fx: OpsFixture
  let gateway: RunningGateway
  let trail: AuditTrail
  let file: string

  before(async () => {
    fx = await createOpsFixture()
    file = join(fx.dir, 'audit', 'decisions.jsonl')
    const config = await loadConfig({
      argv: ['--config', await fx.writeConfig({ scopes: { required: ['mcp:read'], tools: { delete_repo: ['mcp:admin'] } } })],
      env: {},
    })
    trail = createAuditTrail({ ...mcpCallPaths(config), file })
    gateway = await startGateway(config)
  })
  after(async () => {
    trail?.close()
    await gateway?.close({ timeoutMs: 0 })
    await fx?.close()
  })

  test('one record per MCP call, with the request id the client saw and no argument values', async () => {
    const token = await fx.token('mcp:read')
    const canary = `audit-canary-${Date.now()}`
    recordSecret(canary)
    const mcp = `${gateway.url}/mcp`
    const ids: string[] = []
    const post = async (body: string, auth?: string) => {
      const res = await postStreaming(mcp, body, auth === undefined ? {} : { authorization: auth })
      await res.ended
      ids.push(String(res.headers['x-request-id']))
      return res
    }
    await post(callTool('echo', { text: canary }), `Bearer ${token}`)
    await post(callTool('delete_repo', { name: canary }), `Bearer ${token}`)
    await post(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'prompts/get', params: { name: 'greeting', arguments: { name: canary } } }), `Bearer ${token}`)
    await post(JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'resources/read', params: { uri: 'file:///public/readme.txt' } }), `Bearer ${token}`)
    await post(LIST_TOOLS)
    // Not MCP calls: metadata, health, a preflight.
    await send(`${gateway.url}/.well-known/oauth-protected-resource/mcp`)
    await send(`${gateway.url}/healthz`)
    await send(mcp, { method: 'OPTIONS', headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'POST' } })

    await eventually(() => true, 'tick')
    let got: Array<Record<string, unknown>> = []
    for (let i = 0; i < 100 && got.length < ids.length; i++) {
      got = await records(file)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    assert.deepEqual(got.map((r) => r.requestId), ids)
    assert.ok(got.every((r) => r.audit === 'mcp.decision' && /^\d{4}-\d\d-\d\dT/.test(String(r.time))))

    const [echo, denied, prompt, resource, anonymous] = got
    assert.deepEqual(
      [echo?.method, echo?.tool, echo?.decision, echo?.sub, echo?.client_id, echo?.iss],
      ['tools/call', 'echo', 'allow', 'user-42', 'ops-client', 'https://issuer.ops-test.example'],
    )
    assert.deepEqual([denied?.tool, denied?.decision, denied?.reason, denied?.status], ['delete_repo', 'deny', 'insufficient_scope', 403])
    assert.equal(prompt?.prompt, 'greeting')
    assert.equal(resource?.resource, 'file:///public/readme.txt')
    assert.deepEqual([anonymous?.decision, anonymous?.reason, anonymous?.sub, anonymous?.method], ['deny', 'no_credentials', undefined, undefined])

    const text = await readFile(file, 'utf8')
    assert.ok(!text.includes(canary), 'an argument value reached the audit trail')
    assert.ok(!text.includes(token), 'the token reached the audit trail')
  })

  test('audit.includeArguments: true is refused at load (not implemented)', async () => {
    const path = await fx.writeConfig({ audit: { file: 'stdout', includeArguments: true } })
    await assert.rejects(loadConfig({ argv: ['--config', path], env: {} }), (error: unknown) => {
      assert.ok(error instanceof ConfigError)
      assert.match(error.message, /audit\.includeArguments: is not implemented/)
      return true
    })
  })

})

describe('audit trail of the serve command', () => {
  let fx: OpsFixture
  before(async () => {
    fx = await createOpsFixture()
  })
  after(async () => {
    await fx?.close()
  })

  test('serve writes the trail to MCP_AUDIT_LOG and reopens it on SIGHUP (logrotate)', async () => {
    const auditFile = join(fx.dir, 'served-audit.jsonl')
    const gw = spawnServe(['--config', await fx.writeConfig({ scopes: { required: ['mcp:read'] } })], { MCP_AUDIT_LOG: auditFile }, 'audit')
    try {
      await gw.waitForLine((l) => l.msg === 'listening', 'listening')
      const token = await fx.token('mcp:read')
      const first = await postStreaming(`http://127.0.0.1:${fx.port}/mcp`, LIST_TOOLS, { authorization: `Bearer ${token}` })
      await first.ended
      for (let i = 0; i < 100 && (await records(auditFile)).length < 1; i++) await new Promise((r) => setTimeout(r, 20))
      assert.deepEqual((await records(auditFile)).map((r) => r.requestId), [first.headers['x-request-id']])

      await rename(auditFile, `${auditFile}.1`)
      gw.signal('SIGHUP')
      await gw.waitForLine((l) => l.msg === 'configuration reloaded', 'the reload')
      const second = await postStreaming(`http://127.0.0.1:${fx.port}/mcp`, LIST_TOOLS, { authorization: `Bearer ${token}` })
      await second.ended
      for (let i = 0; i < 100 && (await records(auditFile)).length < 1; i++) await new Promise((r) => setTimeout(r, 20))
      assert.deepEqual((await records(auditFile)).map((r) => r.requestId), [second.headers['x-request-id']])
      assert.equal((await records(`${auditFile}.1`)).length, 1)
      assert.ok(!gw.lines.some((l) => l.audit !== undefined), 'with a file, no audit record goes to stdout')
      gw.signal('SIGTERM')
      assert.equal(await gw.exited, 0)
    } finally {
      await gw.kill()
    }
  })

  test('every call answered before a kill -9 has its record in the file, calls answered together too (MCP_AUDIT_SYNC=write, the default)', async () => {
    const auditFile = join(fx.dir, 'killed-audit.jsonl')
    const gw = spawnServe(['--config', await fx.writeConfig({ scopes: { required: ['mcp:read'] } })], { MCP_AUDIT_LOG: auditFile }, 'audit-kill')
    try {
      await gw.waitForLine((l) => l.msg === 'listening', 'listening')
      const token = await fx.token('mcp:read')
      const ids: string[] = []
      // In waves of 20 at once, so answers complete in the same turn and share a group commit.
      for (let wave = 0; wave < 5; wave++) {
        const answers = await Promise.all(
          Array.from({ length: 20 }, async (_, i) => {
            const res = await postStreaming(`http://127.0.0.1:${fx.port}/mcp`, callTool('echo', { text: `call ${wave}.${i}` }, i), {
              authorization: `Bearer ${token}`,
            })
            await res.ended
            assert.equal(res.status, 200)
            return String(res.headers['x-request-id'])
          }),
        )
        ids.push(...answers)
      }
      gw.signal('SIGKILL')
      assert.equal(await gw.exited, 'SIGKILL')
      assert.deepEqual((await records(auditFile)).map((r) => r.requestId).sort(), ids.sort())
    } finally {
      await gw.kill()
    }
  })

  test('an audit file that cannot be opened stops serve before it listens, naming the setting', async () => {
    const notADirectory = join(fx.dir, 'not-a-directory')
    await writeFile(notADirectory, 'x')
    const gw = spawnServe(['--config', await fx.writeConfig()], { MCP_AUDIT_LOG: join(notADirectory, 'audit.jsonl') }, 'audit-unopenable')
    try {
      assert.equal(await gw.exited, 1)
      assert.match(gw.stderr(), /cannot open the audit trail \(MCP_AUDIT_LOG\)/)
      assert.ok(!gw.lines.some((l) => l.msg === 'listening'))
    } finally {
      await gw.kill()
    }
  })

  test('a reload to an audit path that cannot be opened keeps the running trail and says so', async () => {
    const auditFile = join(fx.dir, 'kept-audit.jsonl')
    const notADirectory = join(fx.dir, 'still-not-a-directory')
    await writeFile(notADirectory, 'x')
    const gw = spawnServe(['--config', await fx.writeConfig({ scopes: { required: ['mcp:read'] }, audit: { file: auditFile } })], {}, 'audit-reload-unopenable')
    try {
      await gw.waitForLine((l) => l.msg === 'listening', 'listening')
      await fx.writeConfig({ scopes: { required: ['mcp:read'] }, audit: { file: join(notADirectory, 'audit.jsonl') } })
      gw.signal('SIGHUP')
      const error = await gw.waitForLine((l) => String(l.msg).startsWith('cannot open the audit trail'), 'the error line')
      assert.equal(error.level, 'error')
      await gw.waitForLine((l) => l.msg === 'configuration reloaded', 'the reload')
      const res = await postStreaming(`http://127.0.0.1:${fx.port}/mcp`, LIST_TOOLS, { authorization: `Bearer ${await fx.token('mcp:read')}` })
      await res.ended
      assert.equal(res.status, 200)
      gw.signal('SIGTERM')
      assert.equal(await gw.exited, 0)
      assert.deepEqual((await records(auditFile)).map((r) => r.requestId), [res.headers['x-request-id']])
    } finally {
      await gw.kill()
    }
  })
})

