import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { loadConfig } from '../../src/config/load.js'
import { events } from '../../src/observability/events.js'
import { startGateway, type RunningGateway } from '../../src/server/http.js'
import { startAuthorizationServer, type AuthorizationServer } from '../support/authorization-server.js'
import { startFailingAuthorizationServer, type FailingAuthorizationServer, type FailureMode } from '../support/failing-as.js'
import { startRawBackend, type RawBackend } from '../support/raw-backend.js'

/**
 * Issue 4: every way an introspection endpoint can fail is a 503 with `Retry-After` and no
 * `WWW-Authenticate` (never a 200, never a misleading 401), is not cached, and is reported to the
 * operator without the token or the secret. oidc-provider answers whenever the failing AS passes.
 */

const RESOURCE = 'https://mcp.example.com/mcp'
const SECRET = 'gateway-secret'

let as: AuthorizationServer
let failing: FailingAuthorizationServer
let backend: RawBackend
let gateway: RunningGateway
let dir: string
const notices: string[] = []
const onNotice = (message: unknown) => notices.push((message as { message: string }).message)

before(async () => {
  as = await startAuthorizationServer({ resources: { [RESOURCE]: { scope: 'mcp:read', format: 'opaque' } } })
  failing = await startFailingAuthorizationServer({ upstream: as.introspectionEndpoint, slowMs: 1_500 })
  backend = await startRawBackend((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('{"jsonrpc":"2.0","id":1,"result":{}}')
  })
  dir = mkdtempSync(join(tmpdir(), 'mcp-gw-introspection-failures-'))
  const secretFile = join(dir, 'secret')
  writeFileSync(secretFile, `${SECRET}\n`)
  chmodSync(secretFile, 0o600)
  const file = join(dir, 'gateway.yaml')
  writeFileSync(
    file,
    stringify({
      listen: { host: '127.0.0.1', port: 0 },
      resource: { canonicalUri: RESOURCE, path: '/mcp' },
      backend: { url: backend.origin },
      scopes: { required: ['mcp:read'] },
      authorizationServers: [
        {
          issuer: as.issuer,
          mode: 'introspect',
          httpTimeout: '300ms',
          introspection: { endpoint: failing.introspectionEndpoint, clientId: 'gateway', clientSecretFile: secretFile },
        },
      ],
    }),
  )
  gateway = await startGateway(await loadConfig({ env: {}, argv: ['--config', file] }))
  events.notice.subscribe(onNotice)
})

after(async () => {
  events.notice.unsubscribe(onNotice)
  await gateway.close()
  await failing.close()
  await backend.close()
  await as.close()
  rmSync(dir, { recursive: true, force: true })
})

async function callMcp(token: string): Promise<Response> {
  return fetch(`${gateway.url}/mcp`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
  })
}

const cases: { mode: FailureMode; detail: RegExp }[] = [
  { mode: 'status-500', detail: /HTTP 500/ },
  { mode: 'bad-json', detail: /not JSON/ },
  { mode: 'missing-active', detail: /no boolean "active"/ },
  { mode: 'oversized', detail: /larger than/ },
  { mode: 'slow', detail: /timed out/ },
  { mode: 'down', detail: /unreachable \(ECONNREFUSED\)/ },
]

describe('introspection endpoint failures', () => {
  for (const { mode, detail } of cases) {
    test(`${mode}: 503 with Retry-After, no challenge, not cached, reported without secrets`, async () => {
      const token = await as.clientCredentialsToken({ resource: RESOURCE, scope: 'mcp:read' })
      notices.length = 0
      await failing.setMode(mode)
      const started = performance.now()
      const response = await callMcp(token)
      assert.equal(response.status, 503)
      assert.equal(response.headers.get('retry-after'), '5')
      assert.equal(response.headers.get('www-authenticate'), null)
      assert.equal(response.headers.get('cache-control'), 'no-store')
      const body = (await response.json()) as { error: string; error_description: string }
      assert.equal(body.error, 'verifier_unavailable')
      if (mode === 'slow') assert.ok(performance.now() - started < 1_400, 'the gateway gave up at its timeout')

      const reported = notices.join('\n')
      assert.match(reported, detail)
      for (const text of [reported, JSON.stringify(body)]) {
        assert.ok(!text.includes(token), 'no token in notices or the body')
        assert.ok(!text.includes(SECRET), 'no client secret in notices or the body')
      }

      await failing.setMode('pass')
      assert.equal((await callMcp(token)).status, 200, 'the failure was not cached')
    })
  }
})
