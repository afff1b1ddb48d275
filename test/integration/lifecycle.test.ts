import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { spawnServe, type CliProcess } from '../support/cli-process.js'
import { recordSecret } from '../support/log-capture.js'
import { callTool, createOpsFixture, eventually, ISSUER, LIST_TOOLS, postStreaming, type OpsFixture } from '../support/ops-fixture.js'
import { accessTokenClaims, createTestKeys, mintJwt } from '../support/tokens.js'

/**
 * The real CLI in a child process: SIGHUP reloads the configuration file (a changed scope rule
 * applies to the next request, an open stream is not dropped, an invalid file is refused and the
 * running configuration kept); SIGTERM drains (open SSE streams finish, new connections are
 * refused) and cuts what is left at MCP_SHUTDOWN_TIMEOUT.
 */

describe('SIGHUP reload', () => {
  let fx: OpsFixture
  let gw: CliProcess
  let configFile: string
  let token: string
  const mcpUrl = () => `http://127.0.0.1:${fx.port}/mcp`

  before(async () => {
    fx = await createOpsFixture()
    configFile = await fx.writeConfig({ scopes: { required: ['mcp:read'] }, audit: { file: 'off' } })
    gw = spawnServe(['--config', configFile], {}, 'reload')
    await gw.waitForLine((l) => l.msg === 'listening', 'listening')
    token = await fx.token('mcp:read')
  })
  after(async () => {
    await gw?.kill()
    await fx?.close()
  })

  test('a changed scope rule takes effect without dropping an open stream', async () => {
    const before = await postStreaming(mcpUrl(), LIST_TOOLS, { authorization: `Bearer ${token}` })
    assert.equal(before.status, 200)
    await before.ended

    const stream = await postStreaming(mcpUrl(), callTool('slow_count', { count: 6, delayMs: 250 }), { authorization: `Bearer ${token}` })
    assert.equal(stream.status, 200)
    assert.match(String(stream.headers['content-type']), /text\/event-stream/)
    await eventually(() => stream.text().includes('count 1'), 'the first SSE event')

    await fx.writeConfig({ scopes: { required: ['mcp:read'], methods: { 'tools/list': ['mcp:admin'] } }, audit: { file: 'off' } })
    gw.signal('SIGHUP')
    await gw.waitForLine((l) => l.msg === 'configuration reloaded', 'the reload')

    const after = await postStreaming(mcpUrl(), LIST_TOOLS, { authorization: `Bearer ${token}` })
    await after.ended
    assert.equal(after.status, 403)
    assert.match(String(after.headers['www-authenticate']), /error="insufficient_scope"/)
    assert.match(String(after.headers['www-authenticate']), /scope="[^"]*mcp:admin/)

    assert.equal(await stream.ended, 'complete')
    assert.match(stream.text(), /counted 6/)
  })

  test('an invalid file is refused with its problems logged, and the running configuration stays', async () => {
    await fx.writeConfig({ scopes: { required: ['mcp:read'] }, resource: { canonicalUri: 'ftp://not-allowed.example/mcp' } })
    const already = gw.lines.length
    gw.signal('SIGHUP')
    const refused = await gw.waitForLine(
      (l) => gw.lines.indexOf(l) >= already && String(l.msg).startsWith('configuration reload refused'),
      'the refusal',
    )
    assert.equal(refused.level, 'error')
    assert.ok(Array.isArray(refused.problems))
    assert.match(JSON.stringify(refused.problems), /canonicalUri/)

    // Still the previous (valid) rules: tools/list needs mcp:admin, tools/call does not.
    const list = await postStreaming(mcpUrl(), LIST_TOOLS, { authorization: `Bearer ${token}` })
    await list.ended
    assert.equal(list.status, 403)
    const call = await postStreaming(mcpUrl(), callTool('echo', { text: 'still here' }), { authorization: `Bearer ${token}` })
    await call.ended
    assert.equal(call.status, 200)
    assert.match(call.text(), /still here/)

    await fx.writeConfig('resource: [this is: not: valid yaml')
    const again = gw.lines.length
    gw.signal('SIGHUP')
    const yamlRefused = await gw.waitForLine(
      (l) => gw.lines.indexOf(l) >= again && String(l.msg).startsWith('configuration reload refused'),
      'the YAML refusal',
    )
    assert.match(JSON.stringify(yamlRefused.problems), /not valid YAML/)
    const stillUp = await postStreaming(mcpUrl(), callTool('echo', { text: 'up' }), { authorization: `Bearer ${token}` })
    await stillUp.ended
    assert.equal(stillUp.status, 200)
  })

  test('keys are reloaded: a rotated JWKS file is read again on SIGHUP', async () => {
    const rotated = await createTestKeys()
    const newKeyToken = await mintJwt({
      key: rotated.rsa,
      claims: accessTokenClaims({ issuer: ISSUER, audience: fx.canonicalUri, scope: 'mcp:read' }),
    })
    recordSecret(newKeyToken)
    const echo = callTool('echo', { text: 'rotated' })
    const before = await postStreaming(mcpUrl(), echo, { authorization: `Bearer ${newKeyToken}` })
    await before.ended
    assert.equal(before.status, 401)

    await writeFile(fx.jwksFile, JSON.stringify({ keys: [...fx.keys.jwks.keys, ...rotated.jwks.keys] }))
    await fx.writeConfig({ scopes: { required: ['mcp:read'], methods: { 'tools/list': ['mcp:admin'] } }, audit: { file: 'off' } })
    const already = gw.lines.length
    gw.signal('SIGHUP')
    await gw.waitForLine((l) => gw.lines.indexOf(l) >= already && l.msg === 'configuration reloaded', 'the reload')
    const after = await postStreaming(mcpUrl(), echo, { authorization: `Bearer ${newKeyToken}` })
    await after.ended
    assert.equal(after.status, 200)
    const old = await postStreaming(mcpUrl(), echo, { authorization: `Bearer ${token}` })
    await old.ended
    assert.equal(old.status, 200, 'tokens of the old key still pass while it is in the file')
  })

  test('SIGTERM after reloads exits 0', async () => {
    gw.signal('SIGTERM')
    assert.equal(await gw.exited, 0)
    assert.ok(gw.lines.some((l) => l.msg === 'stopped'))
  })
})

describe('SIGTERM drain', () => {
  let fx: OpsFixture
  const started: CliProcess[] = []

  before(async () => {
    fx = await createOpsFixture()
  })
  after(async () => {
    for (const p of started) await p.kill()
    await fx?.close()
  })

  async function start(env: Record<string, string> = {}): Promise<CliProcess> {
    const configFile = await fx.writeConfig({ scopes: { required: ['mcp:read'] } })
    const gw = spawnServe(['--config', configFile], env, 'drain')
    started.push(gw)
    await gw.waitForLine((l) => l.msg === 'listening', 'listening')
    return gw
  }

  test('an open SSE stream completes, new connections are refused, exit code 0', async () => {
    const gw = await start()
    const token = await fx.token('mcp:read')
    const url = `http://127.0.0.1:${fx.port}/mcp`
    const stream = await postStreaming(url, callTool('slow_count', { count: 8, delayMs: 250 }), { authorization: `Bearer ${token}` })
    assert.equal(stream.status, 200)
    await eventually(() => stream.text().includes('count 1'), 'the first SSE event')

    gw.signal('SIGTERM')
    await gw.waitForLine((l) => l.msg === 'draining', 'draining')
    await assert.rejects(
      postStreaming(url, LIST_TOOLS, { authorization: `Bearer ${token}` }),
      (error: NodeJS.ErrnoException) => error.code === 'ECONNREFUSED',
    )

    assert.equal(await stream.ended, 'complete')
    assert.match(stream.text(), /count 8/)
    assert.match(stream.text(), /counted 8/)
    assert.equal(await gw.exited, 0)
    assert.ok(!gw.lines.some((l) => String(l.msg).startsWith('shutdown deadline')), 'nothing was cut')
    const messages = gw.lines.map((l) => l.msg)
    assert.ok(messages.indexOf('stopped') > messages.indexOf('draining'))
  })

  test('a stream still open at MCP_SHUTDOWN_TIMEOUT is cut and the process exits', async () => {
    const gw = await start({ MCP_SHUTDOWN_TIMEOUT: '1s' })
    const token = await fx.token('mcp:read')
    const stream = await postStreaming(
      `http://127.0.0.1:${fx.port}/mcp`,
      callTool('slow_count', { count: 1000, delayMs: 1000 }),
      { authorization: `Bearer ${token}` },
    )
    assert.equal(stream.status, 200)
    await eventually(() => stream.text().includes('count 1'), 'the first SSE event')

    const signalled = Date.now()
    gw.signal('SIGTERM')
    assert.equal(await gw.exited, 0)
    const took = Date.now() - signalled
    assert.ok(took >= 900, `exited after ${took} ms, before the deadline`)
    assert.ok(took < 6000, `exited after ${took} ms`)
    assert.equal(await stream.ended, 'aborted')
    assert.ok(gw.lines.some((l) => l.level === 'warn' && String(l.msg).startsWith('shutdown deadline')))
  })
})
