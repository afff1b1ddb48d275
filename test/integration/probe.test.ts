import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { loadConfig } from '../../src/config/load.js'
import { startDemoBackend, type DemoBackend } from '../../src/demo/mcp-backend.js'
import { reservePort } from '../../src/demo/reserve-port.js'
import type { ProbeReport, ProbeStep } from '../../src/probe/result.js'
import { runProbe } from '../../src/probe/run-probe.js'
import { startGateway, type RunningGateway } from '../../src/server/http.js'
import { startAuthorizationServer, type AuthorizationServer } from '../support/authorization-server.js'
import { startMcpBackend, type McpBackend } from '../support/mcp-backend.js'

/**
 * `probe` against a real gateway (oidc-provider + SDK MCP backend): every step a strict client
 * needs passes, with a token too; against the bare backend it reports the missing 401 and metadata.
 */

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))
const SCOPE = 'mcp:tools'

function stepOf(report: ProbeReport, id: string): ProbeStep {
  const found = report.steps.find((s) => s.id === id)
  assert.ok(found !== undefined, `no step "${id}" in ${JSON.stringify(report.steps, null, 1)}`)
  return found
}

async function startGatewayFor(
  as: AuthorizationServer,
  backendOrigin: string,
  port: number,
): Promise<{ gateway: RunningGateway; canonical: string }> {
  const canonical = `http://127.0.0.1:${port}/mcp`
  const config = await loadConfig({
    env: {
      MCP_CANONICAL_URI: canonical,
      MCP_LISTEN_HOST: '127.0.0.1',
      MCP_LISTEN_PORT: String(port),
      MCP_AUTHORIZATION_SERVER: as.issuer,
      MCP_JWKS_URI: as.jwksUri,
      MCP_BACKEND: backendOrigin,
      MCP_REQUIRED_SCOPE: SCOPE,
      MCP_LOG_LEVEL: 'silent',
    },
  })
  return { gateway: await startGateway(config), canonical }
}

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'probe', ...args], {
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => child.kill(), 60_000)
    child.once('error', reject)
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

describe('mcp-resource-gateway probe', () => {
  let as: AuthorizationServer
  let backend: McpBackend
  let demoBackend: DemoBackend
  let gateway: RunningGateway
  let modernGateway: RunningGateway
  let canonical: string
  let modernCanonical: string

  before(async () => {
    const port = await reservePort()
    const modernPort = await reservePort()
    as = await startAuthorizationServer({
      resources: {
        [`http://127.0.0.1:${port}/mcp`]: { scope: SCOPE, format: 'jwt' },
        [`http://127.0.0.1:${modernPort}/mcp`]: { scope: SCOPE, format: 'jwt' },
        'https://elsewhere.example.com/mcp': { scope: SCOPE, format: 'jwt' },
      },
    })
    backend = await startMcpBackend()
    demoBackend = await startDemoBackend()
    ;({ gateway, canonical } = await startGatewayFor(as, backend.origin, port))
    ;({ gateway: modernGateway, canonical: modernCanonical } = await startGatewayFor(as, new URL(demoBackend.url).origin, modernPort))
  })
  after(async () => {
    await gateway?.close()
    await modernGateway?.close()
    await backend?.close()
    await demoBackend?.close()
    await as?.close()
  })

  test('without a token: 401, challenge, metadata, resource, AS metadata and PKCE all pass', async () => {
    const report = await runProbe({ url: canonical, timeoutMs: 5000 })
    assert.equal(report.passed, true, JSON.stringify(report.steps, null, 1))
    assert.deepEqual(
      report.steps.map((s) => [s.id, s.status]),
      [
        ['unauthenticated', 'ok'],
        ['challenge', 'ok'],
        ['resource-metadata', 'ok'],
        ['resource-match', 'ok'],
        ['authorization-server', 'ok'],
        ['pkce', 'ok'],
      ],
    )
    assert.match(stepOf(report, 'challenge').client, new RegExp(`fetches the resource metadata at ${canonical.replace('/mcp', '')}/.well-known/oauth-protected-resource/mcp and will ask for scope "${SCOPE}"`))
    assert.ok(stepOf(report, 'resource-metadata').saw.some((l) => l.endsWith(`/.well-known/oauth-protected-resource -> 200, resource "${canonical}", authorization_servers [${as.issuer}]`)))
    assert.match(stepOf(report, 'authorization-server').saw.join('\n'), /client registration: dynamic registration at/)
    // DPoP is on by default: the DPoP challenge beside Bearer is fine, and the metadata flags are reported.
    assert.match(stepOf(report, 'challenge').saw.join('\n'), /DPoP offered too \(RFC 9449 §7\.1\), algs: "ES256 EdDSA RS256 PS256"/)
    assert.match(stepOf(report, 'resource-metadata').saw.join('\n'), /DPoP accepted \(algs ES256, EdDSA, RS256, PS256\)/)
  })

  test('with a token for the endpoint: authenticated initialize and tools/list pass', async () => {
    const token = await as.clientCredentialsToken({ resource: canonical, scope: SCOPE })
    const report = await runProbe({ url: canonical, token, timeoutMs: 5000 })
    assert.equal(report.passed, true, JSON.stringify(report.steps, null, 1))
    const initialize = stepOf(report, 'authenticated')
    assert.equal(initialize.status, 'ok')
    assert.match(initialize.saw.join('\n'), /protocolVersion 2025-11-25, server test-backend 1\.0\.0, session id issued/)
    assert.match(initialize.saw.join('\n'), /notifications\/initialized -> HTTP 202/)
    const list = stepOf(report, 'tools-list')
    assert.equal(list.status, 'ok')
    assert.match(list.saw.join('\n'), /\d+ tools: .*echo/)
    assert.ok(!JSON.stringify(report).includes(token), 'the token never appears in the report')
    // The probe ended its session (basic/transports §Session Management).
    assert.ok(backend.requests.some((r) => r.method === 'DELETE'))
  })

  test('with a token minted for another resource: the authenticated step fails as a 401', async () => {
    const token = await as.clientCredentialsToken({ resource: 'https://elsewhere.example.com/mcp', scope: SCOPE })
    const report = await runProbe({ url: canonical, token, timeoutMs: 5000 })
    assert.equal(report.passed, false)
    const step = stepOf(report, 'authenticated')
    assert.equal(step.status, 'fail')
    assert.match(step.saw[0] ?? '', /HTTP 401/)
    assert.match(step.client, /discards the token and authorizes again \(invalid_token\)/)
    assert.equal(report.steps.some((s) => s.id === 'tools-list'), false)
  })

  test('2026-07-28: server/discover and tools/list without a session', async () => {
    const token = await as.clientCredentialsToken({ resource: modernCanonical, scope: SCOPE })
    const report = await runProbe({ url: modernCanonical, token, protocol: '2026-07-28', timeoutMs: 5000 })
    assert.equal(report.passed, true, JSON.stringify(report.steps, null, 1))
    assert.equal(stepOf(report, 'unauthenticated').title, 'Unauthenticated server/discover')
    assert.match(stepOf(report, 'authenticated').saw.join('\n'), /supportedVersions \[.*2026-07-28\]/)
    assert.match(stepOf(report, 'tools-list').saw.join('\n'), /echo/)
  })

  test('a bare backend with no auth: the missing 401 and the missing metadata are reported', async () => {
    const report = await runProbe({ url: backend.url, timeoutMs: 5000 })
    assert.equal(report.passed, false)
    const first = stepOf(report, 'unauthenticated')
    assert.equal(first.status, 'fail')
    assert.match(first.saw.join('\n'), /HTTP 200[\s\S]*nothing protects it/)
    assert.equal(stepOf(report, 'challenge').status, 'skip')
    const prm = stepOf(report, 'resource-metadata')
    assert.equal(prm.status, 'fail')
    assert.match(prm.saw.join('\n'), /oauth-protected-resource\/mcp -> HTTP 404/)
    assert.match(prm.client, /falls back to treating .* as the authorization server/)
    assert.equal(stepOf(report, 'authorization-server').status, 'skip')
  })

  test('the real CLI process: exit 0 against the gateway, 1 against the bare backend', async () => {
    const good = await runCli([canonical])
    assert.equal(good.code, 0, good.stdout + good.stderr)
    assert.match(good.stdout, /^1  ok    Unauthenticated initialize$/m)
    assert.match(good.stdout, /^a strict client gets through/m)
    const bare = await runCli([backend.url, '--json'])
    assert.equal(bare.code, 1, bare.stdout + bare.stderr)
    const report = JSON.parse(bare.stdout) as ProbeReport
    assert.equal(report.passed, false)
    assert.equal(report.steps[0]?.status, 'fail')
    const usage = await runCli(['not-a-url'])
    assert.equal(usage.code, 2)
    assert.match(usage.stderr, /probe needs one absolute http\(s\) URL/)
  })
})
