import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { IncomingMessage } from 'node:http'
import { events, type RevocationEvent } from '../../src/observability/events.js'
import { createRevocationRoutes, revocationRouteOptions } from '../../src/revocation/admin-routes.js'
import { startAdminServer, type AdminServer } from '../../src/server/admin.js'
import { gatewayMcpUrl, makeTempDir, mcpHeaders, openRequest, postMcp, send, startKeyFileGateway, waitFor, type KeyFileGateway } from '../support/gateway.js'
import { recordSecret } from '../support/log-capture.js'
import { startRawBackend, type RawBackend } from '../support/raw-backend.js'

/**
 * Push revocation on one process (no Redis): the admin routes, what a revoked token gets, the
 * caches purged, the audit event; and event streams that end with their token.
 */
const ADMIN_TOKEN = 'admin-secret-for-revocation-tests-0123456789'

/** Answers every POST with a JSON result and every GET with an event stream that never ends by itself. */
async function startStreamingBackend(): Promise<RawBackend> {
  return startRawBackend((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
      res.write('event: message\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"hello"}}\n\n')
      const tick = setInterval(() => res.write(': keep-alive\n\n'), 50)
      res.once('close', () => clearInterval(tick))
      return
    }
    req.resume()
    req.once('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"jsonrpc":"2.0","id":1,"result":{}}')
    })
  })
}

function openStream(gw: KeyFileGateway, token: string) {
  return openRequest(gatewayMcpUrl(gw), {
    headers: { accept: 'text/event-stream', authorization: `Bearer ${token}`, 'mcp-protocol-version': '2025-06-18' },
  })
}

/** Reads a response to its end: `complete` when it ended cleanly (last chunk), `aborted` when cut, `open` after 5 s. */
function ending(res: IncomingMessage): Promise<{ how: 'complete' | 'aborted' | 'open'; at: number; text: string }> {
  let text = ''
  res.setEncoding('utf8')
  res.on('data', (chunk: string) => (text += chunk))
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      resolve({ how: 'open', at: Date.now(), text })
      res.destroy()
    }, 5000)
    res.once('close', () => clearTimeout(timer))
    res.once('end', () => resolve({ how: 'complete', at: Date.now(), text }))
    res.once('aborted', () => resolve({ how: 'aborted', at: Date.now(), text }))
    res.once('error', () => resolve({ how: 'aborted', at: Date.now(), text }))
  })
}

describe('push revocation (one process)', () => {
  let backend: RawBackend
  let gw: KeyFileGateway
  let admin: AdminServer
  let temp: { dir: string; remove(): Promise<void> }
  const audit: RevocationEvent[] = []
  const onRevocation = (e: unknown) => audit.push(e as RevocationEvent)

  before(async () => {
    temp = await makeTempDir()
    const tokenFile = join(temp.dir, 'admin-token')
    await writeFile(tokenFile, `${ADMIN_TOKEN}\n`, { mode: 0o600 })
    backend = await startStreamingBackend()
    gw = await startKeyFileGateway({
      backend: backend.origin,
      env: { MCP_ADMIN_TOKEN_FILE: tokenFile, MCP_CLOCK_SKEW: '1s', MCP_MAX_TOKEN_LIFETIME: '2h' },
    })
    const routes = createRevocationRoutes(revocationRouteOptions(gw.config, gw.running.revocations)!)
    admin = await startAdminServer({ host: '127.0.0.1', port: 0, ready: async () => true, routes })
    events.revocation.subscribe(onRevocation)
  })
  after(async () => {
    events.revocation.unsubscribe(onRevocation)
    await admin?.close()
    await gw?.close()
    await backend?.close()
    await temp?.remove()
  })

  const adminSend = (path: string, options: { method?: string; body?: string; token?: string; type?: string } = {}) =>
    send(`${admin.url}${path}`, {
      method: options.method ?? 'GET',
      headers: {
        ...(options.token === '' ? {} : { authorization: `Bearer ${options.token ?? ADMIN_TOKEN}` }),
        ...(options.body === undefined ? {} : { 'content-type': options.type ?? 'application/json' }),
      },
      ...(options.body === undefined ? {} : { body: options.body }),
    })

  test('the routes need the admin token', async () => {
    assert.equal((await adminSend('/admin/revocations', { token: '' })).status, 401)
    assert.equal((await adminSend('/admin/revocations', { token: 'wrong' })).status, 401)
    assert.equal((await adminSend('/admin/revocations', { method: 'POST', body: '{"jti":"x"}', token: 'wrong' })).status, 401)
    assert.equal(gw.running.revocations.set.size, 0)
  })

  test('a revoked jti gets 401 invalid_token "The token has been revoked"; lifting it lets the token in again', async () => {
    const token = await gw.token({ jti: 'jti-revoke-me' })
    const other = await gw.token({ jti: 'jti-keep-me' })
    recordSecret(token)
    assert.equal((await postMcp(gw, `Bearer ${token}`)).status, 200)
    assert.equal(gw.running.verifier.verifyCached?.(token)?.subject !== undefined, true, 'the token is cached before')

    const posted = await adminSend('/admin/revocations', { method: 'POST', body: '{"jti":"jti-revoke-me"}' })
    assert.equal(posted.status, 201, posted.body)
    const entry = JSON.parse(posted.body) as { id: string; kind: string; until: number }
    assert.equal(entry.kind, 'jti')
    assert.ok(!entry.id.includes('jti-revoke-me'), 'the id is a hash, not the claim')
    // Default `until`: the longest accepted lifetime (2 h) plus the skew.
    assert.ok(Math.abs(entry.until - (Date.now() / 1000 + 7201)) < 5, String(entry.until))
    assert.equal(gw.running.verifier.verifyCached?.(token), undefined, 'the cache was purged')

    const refused = await postMcp(gw, `Bearer ${token}`)
    assert.equal(refused.status, 401)
    assert.match(refused.headers['www-authenticate'] ?? '', /error="invalid_token"/)
    assert.equal(JSON.parse(refused.body).error_description, 'The token has been revoked')
    assert.equal((await postMcp(gw, `Bearer ${other}`)).status, 200)

    const listed = await adminSend('/admin/revocations')
    assert.equal(listed.status, 200)
    assert.ok(!listed.body.includes('jti-revoke-me'))
    assert.deepEqual(JSON.parse(listed.body).revocations.map((r: { id: string }) => r.id), [entry.id])

    const lifted = await adminSend(`/admin/revocations/${encodeURIComponent(entry.id)}`, { method: 'DELETE' })
    assert.equal(lifted.status, 204)
    assert.equal((await adminSend(`/admin/revocations/${encodeURIComponent(entry.id)}`, { method: 'DELETE' })).status, 404)
    assert.equal((await postMcp(gw, `Bearer ${token}`)).status, 200)

    const mine = audit.filter((e) => e.id === entry.id)
    assert.deepEqual(mine.map((e) => e.action), ['revoke', 'lift'])
    assert.equal(mine[0]?.by, '127.0.0.1')
    assert.ok(!JSON.stringify(audit).includes('jti-revoke-me'))
  })

  test('by subject (with its issuer), by client_id, and by token through the RFC 7009 form', async () => {
    const alice = await gw.token({ sub: 'alice', jti: 'a1' })
    const bob = await gw.token({ sub: 'bob', jti: 'b1', client_id: 'client-b' })
    const carol = await gw.token({ sub: 'carol', jti: 'c1' })
    for (const t of [alice, bob, carol]) assert.equal((await postMcp(gw, `Bearer ${t}`)).status, 200)

    assert.equal((await adminSend('/admin/revocations', { method: 'POST', body: '{"sub":"alice","iss":"https://elsewhere.example"}' })).status, 400)
    assert.equal((await adminSend('/admin/revocations', { method: 'POST', body: `{"sub":"alice","iss":"${gw.issuer}"}` })).status, 201)
    assert.equal((await postMcp(gw, `Bearer ${alice}`)).status, 401)
    assert.equal((await postMcp(gw, `Bearer ${bob}`)).status, 200)

    assert.equal((await adminSend('/admin/revocations', { method: 'POST', body: '{"client_id":"client-b"}' })).status, 201)
    assert.equal((await postMcp(gw, `Bearer ${bob}`)).status, 401)

    const form = await adminSend('/admin/revoke', { method: 'POST', body: `token=${carol}&token_type_hint=access_token`, type: 'application/x-www-form-urlencoded' })
    assert.equal(form.status, 200)
    assert.equal((await postMcp(gw, `Bearer ${carol}`)).status, 401)
    // RFC 7009 §2.2: a token the gateway never saw is still a 200.
    assert.equal((await adminSend('/admin/revoke', { method: 'POST', body: 'token=not-a-token', type: 'application/x-www-form-urlencoded' })).status, 200)
    const listed = await adminSend('/admin/revocations')
    for (const secret of ['alice', 'client-b', carol]) assert.ok(!listed.body.includes(secret))
  })

  test('bad bodies are 400', async () => {
    for (const body of ['{}', '{"jti":"a","client_id":"b"}', 'not json', '{"jti":"a","until":1}', '{"sub":"x"}']) {
      const res = await adminSend('/admin/revocations', { method: 'POST', body })
      assert.equal(res.status, 400, body)
    }
  })

  test('an event stream ends cleanly at exp minus the clock skew', async () => {
    const exp = Math.floor(Date.now() / 1000) + 3
    const token = await gw.token({ exp, jti: 'stream-exp' })
    const { response } = openStream(gw, token)
    const res = await response
    assert.equal(res.statusCode, 200)
    assert.match(res.headers['content-type'] ?? '', /text\/event-stream/)
    const end = await ending(res)
    assert.equal(end.how, 'complete')
    assert.ok(end.at <= exp * 1000 - 1000 + 300, `ended ${end.at - (exp * 1000 - 1000)} ms after exp - skew`)
    assert.ok(end.at >= exp * 1000 - 1000 - 50, `ended ${exp * 1000 - 1000 - end.at} ms before exp - skew`)
    assert.match(end.text, /hello/)
  })

  test('an event stream ends cleanly when its token is revoked', async () => {
    const token = await gw.token({ jti: 'stream-revoked' })
    const { response } = openStream(gw, token)
    const res = await response
    assert.equal(res.statusCode, 200)
    const ended = ending(res)
    await new Promise((resolve) => setTimeout(resolve, 150))
    const revokedAt = Date.now()
    assert.equal((await adminSend('/admin/revocations', { method: 'POST', body: '{"jti":"stream-revoked"}' })).status, 201)
    const end = await ended
    assert.equal(end.how, 'complete')
    assert.ok(end.at - revokedAt < 1000)
    await waitFor(() => backend.requests.filter((r) => r.method === 'GET').length > 0, 'the backend saw the stream')
  })
})

describe('maximum stream lifetime', () => {
  let backend: RawBackend
  let gw: KeyFileGateway
  before(async () => {
    backend = await startStreamingBackend()
    gw = await startKeyFileGateway({ backend: backend.origin, env: { MCP_MAX_STREAM_LIFETIME: '400ms' } })
  })
  after(async () => {
    await gw?.close()
    await backend?.close()
  })

  test('a stream ends cleanly at MCP_MAX_STREAM_LIFETIME; a JSON answer is untouched', async () => {
    const token = await gw.token()
    const opened = Date.now()
    const { response } = openStream(gw, token)
    const end = await ending(await response)
    assert.equal(end.how, 'complete')
    assert.ok(end.at - opened >= 350 && end.at - opened < 1500, `${end.at - opened} ms`)
    const json = await send(gatewayMcpUrl(gw), { method: 'POST', headers: mcpHeaders({ authorization: `Bearer ${token}` }), body: '{"jsonrpc":"2.0","id":1,"method":"ping"}' })
    assert.equal(json.status, 200)
  })
})
