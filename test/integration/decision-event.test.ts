import assert from 'node:assert/strict'
import { request } from 'node:http'
import { after, before, test } from 'node:test'
import { events, type DecisionEvent } from '../../src/observability/events.js'
import { startKeyFileGateway, type KeyFileGateway } from '../support/gateway.js'
import { startRawBackend, type RawBackend } from '../support/raw-backend.js'

/** The decision event is what logs, metrics and the audit trail record: it must say what happened. */

let backend: RawBackend
let gateway: KeyFileGateway
const seen: DecisionEvent[] = []
const collect = (message: unknown) => seen.push(message as DecisionEvent)

before(async () => {
  backend = await startRawBackend((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('{"jsonrpc":"2.0","id":1,"result":{}}')
  })
  gateway = await startKeyFileGateway({ backend: backend.origin, env: { MCP_REQUIRED_SCOPE: 'mcp:read' } })
  events.decision.subscribe(collect)
})
after(async () => {
  events.decision.unsubscribe(collect)
  await gateway.close()
  await backend.close()
})

async function nextEvent(requestId: string): Promise<DecisionEvent> {
  for (let i = 0; i < 200; i++) {
    const event = seen.find((e) => e.requestId === requestId)
    if (event !== undefined) return event
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error(`no decision event for ${requestId}`)
}

test('a client that leaves while its body is being read is recorded as client_closed, not allowed', async () => {
  const token = await gateway.token()
  const url = new URL(gateway.canonicalUri)
  const req = request(url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'content-length': '1000',
      'x-request-id': 'abort-1',
    },
  })
  req.on('error', () => {})
  req.write('{"jsonrpc":"2.0",')
  await new Promise((resolve) => setTimeout(resolve, 100))
  req.destroy()
  const event = await nextEvent('abort-1')
  assert.equal(event.reason, 'client_closed')
  assert.equal(event.decision, 'error')
  assert.equal(event.status, 499)
  assert.equal(backend.requests.length, 0, 'a half-sent request never reaches the backend')
})

test('an allowed call is recorded with its method, principal and status', async () => {
  const response = await fetch(gateway.canonicalUri, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${await gateway.token({ sub: 'alice', client_id: 'app-1' })}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'x-request-id': 'ok-1',
    },
    body: '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}',
  })
  assert.equal(response.status, 200)
  await response.text()
  const event = await nextEvent('ok-1')
  assert.deepEqual(
    [event.decision, event.status, event.mcpMethod, event.target, event.subject, event.clientId],
    ['allow', 200, 'tools/call', 'echo', 'alice', 'app-1'],
  )
  assert.equal(event.reason, undefined)
})
