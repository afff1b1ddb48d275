import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { check } from '../../src/cli/check.js'
import { checkIntrospectionClient } from '../../src/check/introspection-checks.js'
import type { CheckResult } from '../../src/check/result.js'
import { checkSecretFile } from '../../src/check/secret-file.js'
import { reservePort } from '../../src/demo/reserve-port.js'
import { GATEWAY_CLIENT, startAuthorizationServer, type AuthorizationServer } from '../support/authorization-server.js'

/**
 * `check` against oidc-provider: a correct configuration passes; each deliberately broken part is
 * reported as its own failed line with a fix, and the other checks still run.
 */

const RESOURCE_PATH = '/mcp'

interface Report {
  passed: boolean
  summary: { ok: number; warn: number; fail: number }
  results: CheckResult[]
}

async function runCheck(env: Record<string, string>, argv: string[] = []): Promise<{ code: number; report: Report }> {
  let text = ''
  const code = await check(['--json', ...argv], { env, write: (t) => (text += t) })
  return { code, report: JSON.parse(text) as Report }
}

function line(report: Report, id: string): CheckResult {
  const found = report.results.find((r) => r.id === id)
  assert.ok(found !== undefined, `no "${id}" line in ${JSON.stringify(report.results, null, 1)}`)
  return found
}

describe('mcp-resource-gateway check', () => {
  let as: AuthorizationServer
  let canonical: string
  let dir: string
  let goodEnv: Record<string, string>

  before(async () => {
    canonical = `http://127.0.0.1:${await reservePort()}${RESOURCE_PATH}`
    as = await startAuthorizationServer({ resources: { [canonical]: { scope: 'mcp:tools', format: 'jwt' } } })
    dir = await mkdtemp(join(tmpdir(), 'check-test-'))
    goodEnv = {
      MCP_CANONICAL_URI: canonical,
      MCP_AUTHORIZATION_SERVER: as.issuer,
      MCP_JWT_DISCOVERY: 'on',
      MCP_BACKEND: '127.0.0.1:9',
      MCP_REQUIRED_SCOPE: 'mcp:tools',
      MCP_LISTEN_HOST: '127.0.0.1',
      MCP_LISTEN_PORT: '0',
    }
  })
  after(async () => {
    await as.close()
    await rm(dir, { recursive: true, force: true })
  })

  test('a configuration matching oidc-provider passes, every live check ok', async () => {
    const { code, report } = await runCheck(goodEnv)
    assert.equal(code, 0, JSON.stringify(report.results, null, 1))
    assert.equal(report.passed, true)
    assert.equal(report.summary.fail, 0)
    for (const id of ['config', 'audience', 'no-passthrough', 'log-secrets', 'scopes', 'as.metadata', 'as.issuer', 'as.pkce', 'as.jwks']) {
      assert.equal(line(report, id).status, 'ok', id)
    }
    assert.match(line(report, 'as.jwks').message, new RegExp(`${as.kids[0]} \\(RS256\\)`))
    // http on loopback is accepted for development and said so.
    assert.equal(line(report, 'canonical-uri').status, 'warn')
    assert.equal(line(report, 'as.issuer-url').status, 'warn')
  })

  test('--strict turns those development warnings into a failing exit code', async () => {
    const { code, report } = await runCheck(goodEnv, ['--strict'])
    assert.equal(report.summary.fail, 0)
    assert.ok(report.summary.warn > 0)
    assert.equal(code, 1)
    assert.equal(report.passed, false)
  })

  test('an issuer with a trailing slash fails, and PKCE and JWKS are still checked', async () => {
    const { code, report } = await runCheck({ ...goodEnv, MCP_AUTHORIZATION_SERVER: `${as.issuer}/` })
    assert.equal(code, 1)
    const issuer = line(report, 'as.issuer')
    assert.equal(issuer.status, 'fail')
    assert.match(issuer.message, /trailing slash/)
    assert.match(issuer.fix ?? '', new RegExp(`MCP_AUTHORIZATION_SERVER .*"${as.issuer}" exactly`))
    assert.equal(line(report, 'as.metadata').status, 'ok')
    assert.equal(line(report, 'as.pkce').status, 'ok')
    assert.equal(line(report, 'as.jwks').status, 'ok')
  })

  test('an unreachable JWKS fails with its URL, and discovery still passes', async () => {
    const closed = `http://127.0.0.1:${await reservePort()}/jwks`
    const { code, report } = await runCheck({ ...goodEnv, MCP_JWT_DISCOVERY: 'off', MCP_JWKS_URI: closed })
    assert.equal(code, 1)
    const jwks = line(report, 'as.jwks')
    assert.equal(jwks.status, 'fail')
    assert.match(jwks.message, new RegExp(`${closed} is unreachable \\(ECONNREFUSED\\)`))
    assert.ok(jwks.fix !== undefined && jwks.fix.length > 0)
    assert.equal(line(report, 'as.issuer').status, 'ok')
  })

  test('a JWKS whose keys the allowed algorithms cannot use fails', async () => {
    const file = join(dir, 'check.yaml')
    await writeFile(
      file,
      [
        'authorizationServers:',
        `  - issuer: ${as.issuer}`,
        '    discovery: true',
        '    algorithms: [PS512]',
      ].join('\n'),
    )
    const env = { ...goodEnv }
    delete (env as Record<string, string | undefined>).MCP_AUTHORIZATION_SERVER
    delete (env as Record<string, string | undefined>).MCP_JWT_DISCOVERY
    const { code, report } = await runCheck(env, ['--config', file])
    assert.equal(code, 1)
    const jwks = line(report, 'as.jwks')
    assert.equal(jwks.status, 'fail')
    assert.match(jwks.message, /no key usable with the allowed algorithms \[PS512\]/)
    assert.match(jwks.message, /for RS256, not allowed/)
  })

  test('an unreachable authorization server fails discovery with every URL tried', async () => {
    const down = `http://127.0.0.1:${await reservePort()}`
    const { code, report } = await runCheck({ ...goodEnv, MCP_AUTHORIZATION_SERVER: down })
    assert.equal(code, 1)
    const metadata = line(report, 'as.metadata')
    assert.equal(metadata.status, 'fail')
    assert.match(metadata.message, /oauth-authorization-server -> unreachable \(ECONNREFUSED\).*openid-configuration -> unreachable \(ECONNREFUSED\)/)
    assert.equal(line(report, 'as.jwks').status, 'fail')
  })

  test('challenge scope missing from scopes_supported is caught before anything runs', async () => {
    // The schema itself refuses this combination: check reports it as a configuration failure.
    const { code, report } = await runCheck({ ...goodEnv, MCP_SCOPES_SUPPORTED: 'other' })
    assert.equal(code, 1)
    const config = line(report, 'config')
    assert.equal(config.status, 'fail')
    assert.match(config.message, /required scope "mcp:tools" is missing from the supported scopes \(MCP_SCOPES_SUPPORTED/)
  })

  test('a configuration error is a failed line per problem, naming the variable', async () => {
    const env = { ...goodEnv }
    delete (env as Record<string, string | undefined>).MCP_CANONICAL_URI
    const { code, report } = await runCheck(env)
    assert.equal(code, 1)
    assert.ok(report.results.every((r) => r.id === 'config' && r.status === 'fail'))
    assert.match(report.results[0]?.message ?? '', /MCP_CANONICAL_URI/)
  })

  test('MCP_CLIENT_SECRET in the environment fails (the secret comes from a file only)', async () => {
    const { code, report } = await runCheck({ ...goodEnv, MCP_CLIENT_SECRET: 'not-a-real-secret' })
    assert.equal(code, 1)
    const hit = report.results.find((r) => /MCP_CLIENT_SECRET/.test(r.message))
    assert.ok(hit !== undefined && hit.status === 'fail')
    assert.ok(!JSON.stringify(report).includes('not-a-real-secret'), 'the secret value is never printed')
  })

  test('the introspection endpoint accepts the gateway client and refuses a wrong secret', async () => {
    const accepted = await checkIntrospectionClient({
      endpoint: as.introspectionEndpoint,
      clientId: GATEWAY_CLIENT.clientId,
      secret: GATEWAY_CLIENT.clientSecret,
      clientAuth: 'client_secret_basic',
      timeoutMs: 5000,
    })
    assert.equal(accepted.status, 'ok', accepted.message)
    const posted = await checkIntrospectionClient({
      endpoint: as.introspectionEndpoint,
      clientId: GATEWAY_CLIENT.clientId,
      secret: GATEWAY_CLIENT.clientSecret,
      clientAuth: 'client_secret_post',
      timeoutMs: 5000,
    })
    assert.equal(posted.status, 'ok', posted.message)
    const refused = await checkIntrospectionClient({
      endpoint: as.introspectionEndpoint,
      clientId: GATEWAY_CLIENT.clientId,
      secret: 'wrong',
      clientAuth: 'client_secret_basic',
      timeoutMs: 5000,
    })
    assert.equal(refused.status, 'fail')
    assert.match(refused.message, /refused client "gateway" \(HTTP 401\)/)
    assert.ok(!`${refused.message} ${refused.fix}`.includes('wrong'), 'the secret is never printed')
  })

  test('the real CLI process: exit 0 on the good setup, 1 with the trailing-slash issuer', async () => {
    const run = (env: Record<string, string>) =>
      new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'check'], {
          env: { PATH: process.env.PATH ?? '', ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
        })
        let stdout = ''
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
        const timer = setTimeout(() => child.kill(), 60_000)
        child.once('error', reject)
        child.once('close', (code) => {
          clearTimeout(timer)
          resolve({ code, stdout })
        })
      })
    const good = await run(goodEnv)
    assert.equal(good.code, 0, good.stdout)
    assert.match(good.stdout, /^ok {4}as\.issuer +\[.*\] the metadata's issuer equals/m)
    assert.match(good.stdout, /check passed: \d+ ok, \d+ warnings?, 0 failures/)
    const broken = await run({ ...goodEnv, MCP_AUTHORIZATION_SERVER: `${as.issuer}/` })
    assert.equal(broken.code, 1, broken.stdout)
    assert.match(broken.stdout, /^FAIL {2}as\.issuer .*trailing slash/m)
    assert.match(broken.stdout, /^ +fix: set MCP_AUTHORIZATION_SERVER/m)
    assert.match(broken.stdout, /check failed: .* 1 failure$/m)
  })

  describe('introspection (MCP_AUTH_MODE=introspect)', () => {
    let secretFile: string
    let introspectEnv: Record<string, string>

    before(async () => {
      secretFile = join(dir, 'introspection.secret')
      await writeFile(secretFile, `${GATEWAY_CLIENT.clientSecret}\n`, { mode: 0o600 })
      introspectEnv = {
        ...goodEnv,
        MCP_JWT_DISCOVERY: 'off',
        MCP_AUTH_MODE: 'introspect',
        MCP_INTROSPECT_ENDPOINT: as.introspectionEndpoint,
        MCP_CLIENT_ID: GATEWAY_CLIENT.clientId,
        MCP_CLIENT_SECRET_FILE: secretFile,
      }
    })

    test('the gateway client, its secret file at mode 600 and a 60s cache: every line ok', async () => {
      await chmod(secretFile, 0o600)
      const { code, report } = await runCheck(introspectEnv)
      assert.equal(code, 0, JSON.stringify(report.results, null, 1))
      assert.equal(line(report, 'introspection.secret-file').status, 'ok')
      assert.equal(line(report, 'introspection.cache-ttl').status, 'ok')
      const client = line(report, 'introspection.client')
      assert.equal(client.status, 'ok')
      assert.match(client.message, /accepts client "gateway"/)
      assert.equal(report.results.some((r) => r.id === 'as.jwks'), false, 'no JWKS check in introspect mode')
    })

    test('a world-readable secret file fails with the chmod that fixes it (and fails the start with --strict)', async () => {
      await chmod(secretFile, 0o644)
      try {
        const { code, report } = await runCheck(introspectEnv)
        assert.equal(code, 1)
        const file = line(report, 'introspection.secret-file')
        assert.equal(file.status, 'fail')
        assert.match(file.message, /mode 644: group and others can access it/)
        assert.equal(file.fix?.startsWith(`chmod 600 ${secretFile}`), true)
        const strict = await runCheck(introspectEnv, ['--strict'])
        assert.equal(strict.code, 1)
        assert.ok(strict.report.results.some((r) => r.id === 'config' && r.status === 'fail' && r.message.includes(secretFile)))
      } finally {
        await chmod(secretFile, 0o600)
      }
    })

    test('a wrong secret: the endpoint refuses the client', async () => {
      const wrong = join(dir, 'wrong.secret')
      await writeFile(wrong, 'not-the-secret', { mode: 0o600 })
      const { code, report } = await runCheck({ ...introspectEnv, MCP_CLIENT_SECRET_FILE: wrong })
      assert.equal(code, 1)
      assert.match(line(report, 'introspection.client').message, /refused client "gateway" \(HTTP 401\)/)
      assert.ok(!JSON.stringify(report).includes('not-the-secret'))
    })

    test('a cache TTL of ten minutes fails (revocation would take that long)', async () => {
      const { code, report } = await runCheck({ ...introspectEnv, MCP_INTROSPECT_CACHE_MAX_TTL: '10m' })
      assert.equal(code, 1)
      assert.match(line(report, 'introspection.cache-ttl').message, /cached up to 600s/)
    })
  })

  test('a world-readable client secret file fails with the chmod that fixes it', async () => {
    const secretFile = join(dir, 'client.secret')
    await writeFile(secretFile, `${GATEWAY_CLIENT.clientSecret}\n`)
    await chmod(secretFile, 0o644)
    const result = await checkSecretFile('introspection.secret-file', secretFile, 'client secret file')
    assert.equal(result.status, 'fail')
    assert.match(result.message, /mode 644: group and others can access it/)
    assert.equal(result.fix?.startsWith(`chmod 600 ${secretFile}`), true)
    await chmod(secretFile, 0o600)
    assert.equal((await checkSecretFile('introspection.secret-file', secretFile, 'client secret file')).status, 'ok')
  })
})
