import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig } from '../../src/config/load.js'
import { startGateway, type RunningGateway } from '../../src/server/http.js'
import { send } from '../support/gateway.js'
import { LOG_ROOT, RUN_DIR, recordSecret, scanRun } from '../support/log-capture.js'
import { callTool, createOpsFixture, ISSUER, LIST_TOOLS, postStreaming, reservePort, type OpsFixture } from '../support/ops-fixture.js'
import { accessTokenClaims, algNoneToken, hs256WithPublicKey, mintJwt } from '../support/tokens.js'

/**
 * Named to sort last: greps every log line captured during this test run for every secret the run
 * used (test/support/log-capture.ts). Test files run in parallel processes; a file still running
 * beside this one is scanned as far as it got. The run's own scenario (every way a token can come
 * in, at trace level) always runs first, so the scan is never empty.
 */

describe('no secret in any log line', () => {
  let fx: OpsFixture
  let gateway: RunningGateway
  let brokenBackend: RunningGateway

  before(async () => {
    fx = await createOpsFixture()
    const file = await fx.writeConfig({ scopes: { required: ['mcp:read'], tools: { delete_repo: ['mcp:admin'] } }, log: { level: 'trace' } })
    gateway = await startGateway(await loadConfig({ argv: ['--config', file], env: {} }))
    // Same resource, a backend that is gone: the 502 path logs too.
    const deadPort = await reservePort()
    const port = await reservePort()
    const broken = await fx.writeConfig({
      listen: { host: '127.0.0.1', port },
      resource: { canonicalUri: fx.canonicalUri, path: '/mcp' },
      backend: { url: `http://127.0.0.1:${deadPort}` },
    })
    brokenBackend = await startGateway(await loadConfig({ argv: ['--config', broken], env: {} }))
  })
  after(async () => {
    await gateway?.close({ timeoutMs: 0 })
    await brokenBackend?.close({ timeoutMs: 0 })
    await fx?.close()
  })

  test('the scenario: every way a token or secret can reach the gateway', async () => {
    const now = Math.floor(Date.now() / 1000)
    const valid = await fx.token('mcp:read', { email: 'claim-canary@example.com' })
    recordSecret('claim-canary@example.com')
    const expired = await fx.token('mcp:read', { exp: now - 3600, iat: now - 7200 })
    const wrongAudience = await fx.token('mcp:read', { aud: 'https://elsewhere.example/mcp' })
    const [h, p, s] = valid.split('.') as [string, string, string]
    const badSignature = `${h}.${p}.${s.slice(0, -6)}${s.slice(-6) === 'AAAAAA' ? 'BBBBBB' : 'AAAAAA'}`
    const claims = accessTokenClaims({ issuer: ISSUER, audience: fx.canonicalUri, scope: 'mcp:read' })
    const none = algNoneToken(claims)
    const confused = await hs256WithPublicKey(fx.keys.rsa.publicJwk, claims)
    const unknownKid = await mintJwt({ key: fx.keys.ec, header: { kid: 'unknown-kid' }, claims })
    const opaque = `opaque-${'x'.repeat(20)}-${Date.now()}`
    const argument = `argument-secret-${Date.now()}`
    const basicSecret = `basic-secret-${Date.now()}`
    for (const secret of [badSignature, none, confused, unknownKid, opaque, argument, basicSecret]) recordSecret(secret)

    const mcp = `${gateway.url}/mcp`
    const expectations: Array<[string, number]> = []
    const post = async (url: string, body: string, headers: Record<string, string>, status: number) => {
      const res = await postStreaming(url, body, headers)
      await res.ended
      assert.equal(res.status, status, `${JSON.stringify(Object.keys(headers))} -> ${res.status}`)
      expectations.push([String(res.headers['x-request-id']), status])
    }
    await post(mcp, callTool('echo', { text: argument }), { authorization: `Bearer ${valid}` }, 200)
    await post(mcp, LIST_TOOLS, { authorization: `Bearer ${expired}` }, 401)
    await post(mcp, LIST_TOOLS, { authorization: `Bearer ${wrongAudience}` }, 401)
    await post(mcp, LIST_TOOLS, { authorization: `Bearer ${badSignature}` }, 401)
    await post(mcp, LIST_TOOLS, { authorization: `Bearer ${none}` }, 401)
    await post(mcp, LIST_TOOLS, { authorization: `Bearer ${confused}` }, 401)
    await post(mcp, LIST_TOOLS, { authorization: `Bearer ${unknownKid}` }, 401)
    await post(mcp, LIST_TOOLS, { authorization: `Bearer ${opaque}` }, 401)
    await post(mcp, LIST_TOOLS, { authorization: `Basic ${Buffer.from(`client:${basicSecret}`).toString('base64')}` }, 401)
    await post(`${mcp}?access_token=${valid}`, LIST_TOOLS, {}, 400)
    await post(mcp, callTool('delete_repo', { name: argument }), { authorization: `Bearer ${valid}` }, 403)
    await post(mcp, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"${argument}"}`, { authorization: `Bearer ${valid}` }, 400)
    await post(`${brokenBackend.url}/mcp`, callTool('echo', { text: argument }), { authorization: `Bearer ${valid}` }, 502)
    const twice = await send(mcp, {
      method: 'POST',
      headers: ['content-type', 'application/json', 'authorization', `Bearer ${valid}`, 'authorization', `Bearer ${expired}`],
      body: LIST_TOOLS,
    })
    assert.equal(twice.status, 400)
    expectations.push([String(twice.headers['x-request-id']), 400])
    const elsewhere = await send(`${gateway.url}/nowhere?token=${valid}`, { headers: { authorization: `Bearer ${valid}` } })
    expectations.push([String(elsewhere.headers['x-request-id']), 404])
    await new Promise((resolve) => setTimeout(resolve, 100))

    // The capture of this very process holds an access line for each of those requests.
    const own = readFileSync(join(RUN_DIR, `${process.pid}.log`), 'utf8')
    for (const [id, status] of expectations) {
      const line = own.split('\n').find((l) => l.includes(`"requestId":"${id}"`) && l.includes('"msg":"request"'))
      assert.ok(line !== undefined, `no access line for ${id}`)
      assert.equal((JSON.parse(line) as { status: number }).status, status)
    }
  })

  test('the scanner finds a whole token, a JWT payload and a truncated signature', async () => {
    const dir = join(fx.dir, 'scanner-self-test')
    mkdirSync(dir)
    const jwt = await fx.token('mcp:read')
    const [, payload, signature] = jwt.split('.') as [string, string, string]
    writeFileSync(join(dir, '1.secrets'), `${JSON.stringify(jwt)}\n${JSON.stringify('opaque-secret-value-123')}\n`)
    writeFileSync(join(dir, 'a.log'), `{"msg":"clean"}\n`)
    assert.deepEqual(scanRun(dir).findings, [])
    writeFileSync(join(dir, 'b.log'), `{"token":"${signature.slice(0, 20)}..."}\n`)
    writeFileSync(join(dir, 'c.log'), `{"claims":"${payload}"}\n{"x":"opaque-secret-value-123"}\n`)
    assert.deepEqual(
      scanRun(dir).findings.map((f) => `${f.file} ${f.part} ${f.secret}`).sort(),
      ['b.log jwt signature start 0', 'c.log jwt payload 0', 'c.log whole 1'],
    )
  })

  test('the scan: no captured line of this run holds any recorded secret, whole or in part', () => {
    const result = scanRun(RUN_DIR)
    assert.ok(result.secrets >= 10, `only ${result.secrets} secrets recorded`)
    assert.ok(result.files >= 1 && result.bytes > 0, 'nothing was captured')
    assert.deepEqual(result.findings, [], `secrets found in logs: ${JSON.stringify(result.findings)}`)
  })

  test('older runs whose test runner is gone are removed', () => {
    for (const name of readdirSync(LOG_ROOT)) {
      const pid = Number(name)
      if (!Number.isInteger(pid) || pid === process.ppid) continue
      let alive = true
      try {
        process.kill(pid, 0)
      } catch {
        alive = false
      }
      if (!alive && statSync(join(LOG_ROOT, name)).isDirectory()) rmSync(join(LOG_ROOT, name), { recursive: true, force: true })
    }
    assert.ok(readdirSync(LOG_ROOT).includes(String(process.ppid)), 'this run is kept')
  })
})
