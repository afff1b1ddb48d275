import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { chmod, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadConfig } from '../../src/config/load.js'
import { mcpCallPaths } from '../../src/observability/audit.js'
import { configuredTools, createMetrics, metricsHandler, type GatewayMetrics } from '../../src/observability/metrics.js'
import { startAdminServer, type AdminServer } from '../../src/server/admin.js'
import { startGateway, type RunningGateway } from '../../src/server/http.js'
import { send } from '../support/gateway.js'
import { startRawBackend, type RawBackend } from '../support/mcp-backend.js'
import { callTool, createOpsFixture, eventually, ISSUER, LIST_TOOLS, postStreaming, type OpsFixture } from '../support/ops-fixture.js'
import { accessTokenClaims, mintJwt } from '../support/tokens.js'
import { recordSecret } from '../support/log-capture.js'
import { startAuthorizationServer, type AuthorizationServer } from '../support/authorization-server.js'

/**
 * Scripted traffic through a real gateway (JWKS over HTTP, the SDK backend, the rate limiter,
 * oidc-provider's introspection), then the exact values of /metrics on the main port and on the
 * admin listener.
 */

function samples(text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const space = line.lastIndexOf(' ')
    out.set(line.slice(0, space), Number(line.slice(space + 1)))
  }
  return out
}

function sum(m: Map<string, number>, prefix: string): number {
  let total = 0
  for (const [key, value] of m) if (key.startsWith(prefix)) total += value
  return total
}

describe('metrics after scripted traffic', () => {
  let fx: OpsFixture
  let jwksServer: RawBackend
  let gateway: RunningGateway
  let admin: AdminServer
  let metrics: GatewayMetrics
  let mcpUrl: string

  before(async () => {
    fx = await createOpsFixture()
    jwksServer = await startRawBackend((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(fx.keys.jwks))
    })
    const file = await fx.writeConfig({
      authorizationServers: [{ issuer: ISSUER, jwksUri: `${jwksServer.origin}/jwks`, jwksCooldown: 0 }],
      scopes: { required: ['mcp:read'], tools: { delete_repo: ['mcp:admin'] } },
      rateLimit: { enabled: true, tools: { add: '1r/m' } },
      metrics: { onMainPort: true },
    })
    const config = await loadConfig({ argv: ['--config', file], env: {} })
    metrics = createMetrics({ calls: mcpCallPaths(config), knownTools: configuredTools(config.scopes), defaultMetrics: false })
    gateway = await startGateway(config, { parts: { extraRoutes: new Map([['/metrics', metricsHandler(metrics)]]) } })
    admin = await startAdminServer({ host: '127.0.0.1', port: 0, metrics, ready: () => gateway.ready() })
    mcpUrl = `${gateway.url}/mcp`
    await eventually(() => gateway.verifier.ready?.() === true, 'keys loaded')
  })
  after(async () => {
    metrics?.close()
    await admin?.close()
    await gateway?.close({ timeoutMs: 0 })
    await jwksServer?.close()
    await fx?.close()
  })

  async function post(body: string, token?: string): Promise<number> {
    const res = await postStreaming(mcpUrl, body, token === undefined ? {} : { authorization: `Bearer ${token}` })
    await res.ended
    return res.status
  }

  test('each counter and histogram counts exactly what was sent', async () => {
    const read = await fx.token('mcp:read')
    const expired = await fx.token('mcp:read', { exp: Math.floor(Date.now() / 1000) - 3600, iat: Math.floor(Date.now() / 1000) - 7200 })
    const otherAudience = await fx.token('mcp:read', { aud: 'https://elsewhere.example/mcp' })
    const unknownKid = await mintJwt({
      key: fx.keys.rsa,
      header: { kid: 'not-in-the-jwks' },
      claims: accessTokenClaims({ issuer: ISSUER, audience: fx.canonicalUri, scope: 'mcp:read' }),
    })
    recordSecret(unknownKid)

    assert.equal(await post(LIST_TOOLS), 401)
    assert.equal(await post(LIST_TOOLS, expired), 401)
    assert.equal(await post(LIST_TOOLS, otherAudience), 401)
    assert.equal(await post(LIST_TOOLS, unknownKid), 401)
    assert.equal(await post(LIST_TOOLS, read), 200)
    assert.equal(await post(callTool('echo', { text: 'a' }), read), 200)
    assert.equal(await post(callTool('echo', { text: 'b' }), read), 200)
    assert.equal(await post(callTool('delete_repo', { name: 'x' }), read), 403)
    assert.equal(await post(callTool('add', { a: 1, b: 2 }), read), 200)
    assert.equal(await post(callTool('add', { a: 1, b: 2 }), read), 429)
    assert.equal((await send(`${gateway.url}/healthz`)).status, 200)
    assert.equal((await send(`${gateway.url}/.well-known/oauth-protected-resource/mcp`)).status, 200)

    const stream = await postStreaming(mcpUrl, callTool('slow_count', { count: 3, delayMs: 300 }), { authorization: `Bearer ${read}` })
    assert.equal(stream.status, 200)
    await eventually(() => stream.text().includes('count 1'), 'the first SSE event')
    const during = samples((await send(`${gateway.url}/metrics`)).body)
    assert.equal(during.get('mcp_open_streams'), 1)
    assert.equal(await stream.ended, 'complete')
    // The decision event and the gauge's decrement follow the response's close on the server side.
    await new Promise((resolve) => setTimeout(resolve, 50))

    const mainPort = await send(`${gateway.url}/metrics`)
    assert.equal(mainPort.status, 200)
    assert.match(String(mainPort.headers['content-type']), /^text\/plain; version=0\.0\.4/)
    const m = samples(mainPort.body)

    assert.equal(m.get('mcp_open_streams'), 0)
    assert.equal(m.get('mcp_auth_failure_total{reason="no_credentials"}'), 1)
    assert.equal(m.get('mcp_auth_failure_total{reason="expired"}'), 1)
    assert.equal(m.get('mcp_auth_failure_total{reason="audience"}'), 1)
    assert.equal(m.get('mcp_auth_failure_total{reason="unknown_key"}'), 1)
    assert.equal(sum(m, 'mcp_auth_failure_total'), 4)
    // tools/list, echo x2, delete_repo, add x2, slow_count.
    assert.equal(m.get('mcp_auth_success_total'), 7)
    assert.equal(m.get('mcp_tool_invocation_total{tool="echo",decision="allow"}'), 2)
    assert.equal(m.get('mcp_tool_invocation_total{tool="delete_repo",decision="deny"}'), 1)
    assert.equal(m.get('mcp_tool_invocation_total{tool="add",decision="allow"}'), 1)
    assert.equal(m.get('mcp_tool_invocation_total{tool="add",decision="deny"}'), 1)
    assert.equal(m.get('mcp_tool_invocation_total{tool="slow_count",decision="allow"}'), 1)
    assert.equal(m.get('mcp_rate_limit_hit_total'), 1)
    // Start-up fetch, then one refetch for the unknown kid (cooldown 0).
    assert.equal(m.get(`mcp_jwks_refresh_total{issuer="${ISSUER}",result="ok"}`), 2)
    // 11 MCP calls; /healthz, the metadata and /metrics are not counted.
    assert.equal(sum(m, 'mcp_request_duration_seconds_count'), 11)
    assert.equal(m.get('mcp_requests_total{decision="allow",status="200"}'), 5)
    assert.equal(m.get('mcp_requests_total{decision="deny",status="401"}'), 4)
    assert.equal(m.get('mcp_upstream_duration_seconds_count'), 5)
    assert.ok((m.get('mcp_upstream_duration_seconds_sum') ?? 0) >= 0.6, 'the SSE call lasted at least 600 ms upstream')

    const adminPort = samples((await send(`${admin.url}/metrics`)).body)
    assert.equal(adminPort.get('mcp_auth_success_total'), 7)
    assert.equal((await send(`${admin.url}/readyz`)).status, 200)
    assert.equal((await send(`${admin.url}/healthz`)).status, 200)
    assert.equal((await send(`${admin.url}/elsewhere`)).status, 404)
  })
})

describe('introspection metrics against oidc-provider', () => {
  let fx: OpsFixture
  let as: AuthorizationServer
  let gateway: RunningGateway
  let metrics: GatewayMetrics

  before(async () => {
    fx = await createOpsFixture()
    as = await startAuthorizationServer({ resources: { [fx.canonicalUri]: { scope: 'mcp:read', format: 'opaque' } } })
    const secretFile = join(fx.dir, 'client-secret')
    await writeFile(secretFile, 'gateway-secret\n')
    await chmod(secretFile, 0o600)
    const file = await fx.writeConfig({
      authorizationServers: [
        { issuer: as.issuer, mode: 'introspect', introspection: { endpoint: as.introspectionEndpoint, clientId: 'gateway', clientSecretFile: secretFile } },
      ],
      scopes: { required: ['mcp:read'] },
    })
    const config = await loadConfig({ argv: ['--config', file], env: {} })
    metrics = createMetrics({ calls: mcpCallPaths(config), defaultMetrics: false })
    gateway = await startGateway(config)
  })
  after(async () => {
    metrics?.close()
    await gateway?.close({ timeoutMs: 0 })
    await as?.close()
    await fx?.close()
  })

  test('one call to the AS per token, then cache hits; an unknown token is one inactive call', async () => {
    const token = await as.clientCredentialsToken({ resource: fx.canonicalUri, scope: 'mcp:read' })
    recordSecret(token)
    const statuses: number[] = []
    for (const t of [token, token, token, `unknown-${'z'.repeat(40)}`]) {
      const res = await postStreaming(`${gateway.url}/mcp`, LIST_TOOLS, { authorization: `Bearer ${t}` })
      await res.ended
      statuses.push(res.status)
    }
    assert.deepEqual(statuses, [200, 200, 200, 401])
    const m = samples(await metrics.render())
    assert.equal(m.get(`mcp_introspection_total{issuer="${as.issuer}",result="active"}`), 1)
    assert.equal(m.get(`mcp_introspection_total{issuer="${as.issuer}",result="inactive"}`), 1)
    assert.equal(m.get(`mcp_introspection_cache_hits_total{issuer="${as.issuer}"}`), 2)
    assert.equal(m.get('mcp_introspection_duration_seconds_count'), 2)
    assert.equal(m.get('mcp_auth_success_total'), 3)
    assert.equal(m.get('mcp_auth_failure_total{reason="inactive"}'), 1)
  })
})
