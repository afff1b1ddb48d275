import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { events, type DecisionEvent } from '../../src/observability/events.js'
import { gatewayMcpUrl, INITIALIZE_BODY, mcpHeaders, send, startKeyFileGateway, type KeyFileGateway } from '../support/gateway.js'
import { startMcpBackend, type McpBackend } from '../support/mcp-backend.js'

/** Failed-authentication lockout on one process (no Redis): counted per client address, 429 before any token work. */
describe('failed-authentication lockout', () => {
  let backend: McpBackend
  let gw: KeyFileGateway
  const decisions: DecisionEvent[] = []
  const onDecision = (e: unknown) => decisions.push(e as DecisionEvent)

  before(async () => {
    backend = await startMcpBackend({ mode: 'stateless' })
    gw = await startKeyFileGateway({
      backend: backend.origin,
      env: { MCP_AUTH_FAILURE_LIMIT: '3/1m', MCP_AUTH_FAILURE_BLOCK: '3s', MCP_TRUSTED_PROXIES: '127.0.0.1' },
    })
    events.decision.subscribe(onDecision)
  })
  after(async () => {
    events.decision.unsubscribe(onDecision)
    await gw?.close()
    await backend?.close()
  })

  const post = (from: string, authorization?: string) =>
    send(gatewayMcpUrl(gw), {
      method: 'POST',
      headers: mcpHeaders({ 'x-forwarded-for': from, ...(authorization === undefined ? {} : { authorization }) }),
      body: INITIALIZE_BODY,
    })

  test('requests without a token do not count; refused tokens do; then 429 with Retry-After, even for a good token', async () => {
    const good = await gw.token()
    const bad = `${good.slice(0, -4)}AAAA`
    for (let i = 0; i < 5; i++) assert.equal((await post('203.0.113.7')).status, 401)
    for (let i = 0; i < 3; i++) assert.equal((await post('203.0.113.7', `Bearer ${bad}`)).status, 401)
    // The block is written after the third failure's answer: bounded wait.
    let blocked = await post('203.0.113.7', `Bearer ${good}`)
    for (let i = 0; i < 50 && blocked.status !== 429; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20))
      blocked = await post('203.0.113.7', `Bearer ${good}`)
    }
    assert.equal(blocked.status, 429)
    const retryAfter = Number(blocked.headers['retry-after'])
    assert.ok(retryAfter >= 1 && retryAfter <= 3, String(retryAfter))
    assert.equal(JSON.parse(blocked.body).error, 'auth_blocked')
    // Refused before verification: the decision carries no principal.
    const last = decisions.findLast((d) => d.reason === 'auth_blocked')
    assert.equal(last?.subject, undefined)
    assert.equal(last?.status, 429)

    // Another address is never affected.
    assert.equal((await post('203.0.113.8', `Bearer ${good}`)).status, 200)
    assert.deepEqual(gw.running.lockout?.blocked.entries().map((e) => e.member), ['203.0.113.7'])
  })

  test('the block ends after MCP_AUTH_FAILURE_BLOCK', async () => {
    const good = await gw.token()
    const until = gw.running.lockout?.blocked.until('203.0.113.7')
    assert.ok(until !== undefined)
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, until - Date.now()) + 50))
    assert.equal((await post('203.0.113.7', `Bearer ${good}`)).status, 200)
  })
})

/** MCP_TRUSTED_PROXIES, and only those: a forged X-Forwarded-For from any other peer is not an address. */
describe('failed-authentication lockout, without trusted proxies', () => {
  let backend: McpBackend
  let gw: KeyFileGateway

  before(async () => {
    backend = await startMcpBackend({ mode: 'stateless' })
    gw = await startKeyFileGateway({ backend: backend.origin, env: { MCP_AUTH_FAILURE_LIMIT: '3/1m', MCP_AUTH_FAILURE_BLOCK: '3s' } })
  })
  after(async () => {
    await gw?.close()
    await backend?.close()
  })

  test('rotating a forged X-Forwarded-For does not dodge the lockout: the TCP peer is counted', async () => {
    const good = await gw.token()
    const bad = `${good.slice(0, -4)}AAAA`
    const post = (from: string, token: string) =>
      send(gatewayMcpUrl(gw), {
        method: 'POST',
        headers: mcpHeaders({ 'x-forwarded-for': from, authorization: `Bearer ${token}` }),
        body: INITIALIZE_BODY,
      })
    for (const forged of ['198.51.100.1', '198.51.100.2', '198.51.100.3']) assert.equal((await post(forged, bad)).status, 401)
    let status = (await post('198.51.100.4', good)).status
    for (let i = 0; i < 50 && status !== 429; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20))
      status = (await post('198.51.100.4', good)).status
    }
    assert.equal(status, 429, 'the loopback peer is blocked whatever the header says')
    const blocked = gw.running.lockout?.blocked.entries().map((e) => e.member) ?? []
    assert.ok(blocked.length === 1 && !blocked[0]?.startsWith('198.51.100'), `blocked: ${blocked.join(', ')}`)
  })
})
