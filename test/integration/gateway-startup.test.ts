import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import type { Server } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { reservePort } from '../../src/demo/reserve-port.js'
import { makeTempDir, send, waitFor, withDpopChallenge } from '../support/gateway.js'
import { startRawBackend } from '../support/mcp-backend.js'
import type { RawBackend } from '../support/mcp-backend.js'
import { startAuthorizationServer, type AuthorizationServer } from '../support/authorization-server.js'
import { accessTokenClaims, createTestKeys, mintJwt } from '../support/tokens.js'

// Issue 2 "Fail fast", through the real CLI process: every problem printed, each naming its
// variable, and a non-zero exit before anything listens.

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const CLI = join(ROOT, 'src/cli/main.ts')
/** Bounds a CLI run that should exit by itself. */
const EXIT_TIMEOUT_MS = 15_000

interface CliRun {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

interface CliProcess {
  /** Resolves when the process exits. */
  readonly exited: Promise<CliRun>
  output(): { stdout: string; stderr: string }
  kill(signal: NodeJS.Signals): void
}

/** `node --import tsx src/cli/main.ts serve` with exactly these variables (no MCP_* leaks in from the test's env). */
function startCli(env: Record<string, string>, args: string[] = []): CliProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const exited = new Promise<CliRun>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`the CLI did not exit within ${EXIT_TIMEOUT_MS} ms; stderr: ${stderr}`))
    }, EXIT_TIMEOUT_MS)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      // 'exit' can precede the last 'data' events; 'close' waits for the pipes.
      child.once('close', () => resolve({ code, signal, stdout, stderr }))
    })
  })
  exited.catch(() => {})
  return {
    exited,
    output: () => ({ stdout, stderr }),
    kill: (signal) => child.kill(signal),
  }
}

/** Whether the port is taken (binding it fails). */
function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createServer().listen(port, '127.0.0.1')
    socket.once('listening', () => socket.close(() => resolve(false)))
    socket.once('error', () => resolve(true))
  })
}

describe('serve: startup failures', () => {
  let temp: { dir: string; remove(): Promise<void> }

  before(async () => {
    temp = await makeTempDir()
  })
  after(async () => {
    await temp?.remove()
  })

  test('every bad setting at once, each naming its variable; exit 2 before listening', async () => {
    const port = await reservePort()
    const run = await startCli({
      MCP_LISTEN_HOST: '127.0.0.1',
      MCP_LISTEN_PORT: String(port),
      MCP_CANONICAL_URI: 'http://mcp.example.com/mcp',
      MCP_BACKEND: 'localhost',
      MCP_TLS: 'on',
      MCP_REQUIRED_SCOPE: 'mcp:admin',
      MCP_SCOPES_SUPPORTED: 'mcp:read',
      MCP_BACKEND_TIMEOUT: 'soon',
    }).exited
    assert.equal(run.code, 2, run.stderr)
    assert.equal(run.stdout, '')
    const lines = run.stderr.trim().split('\n')
    assert.equal(lines[0], 'mcp-resource-gateway: invalid configuration:')
    const problems = lines.slice(1)
    const expected: [string, string][] = [
      ['MCP_CANONICAL_URI', 'http is allowed only for loopback hosts'],
      ['MCP_AUTHORIZATION_SERVER', 'is required but not set'],
      ['MCP_BACKEND', 'expected host:port'],
      ['MCP_SSL_CERT_FILE', 'is required when MCP_TLS=on'],
      ['MCP_SSL_CERT_KEY_FILE', 'is required when MCP_TLS=on'],
      ['MCP_REQUIRED_SCOPE', 'mcp:admin'],
      ['MCP_BACKEND_TIMEOUT', 'expected a duration'],
    ]
    for (const [name, phrase] of expected) {
      assert.ok(
        problems.some((p) => p.startsWith(`  - ${name}`) && p.includes(phrase)),
        `no line names ${name} (${phrase}) in\n${run.stderr}`,
      )
    }
    assert.equal(problems.length, expected.length, run.stderr)
    assert.equal(await portInUse(port), false)
  })

  test('no key source in jwt mode: discovery turned off, and the message names that variable', async () => {
    const run = await startCli({
      MCP_CANONICAL_URI: 'https://mcp.example.com/mcp',
      MCP_AUTHORIZATION_SERVER: 'https://as.example.com',
      MCP_AUTH_MODE: 'jwt',
      MCP_JWT_DISCOVERY: 'off',
      MCP_BACKEND: '127.0.0.1:3000',
    }).exited
    assert.equal(run.code, 2)
    assert.match(run.stderr, /^ {2}- MCP_JWT_DISCOVERY: verifying JWTs needs a key source, and discovery is off: set MCP_JWT_KEY_FILE/m)
  })

  test('a misspelt variable stops the start, naming the variable it resembles', async () => {
    const run = await startCli({
      MCP_CANONICAL_URI: 'https://mcp.example.com/mcp',
      MCP_AUTHORIZATION_SERVER: 'https://as.example.com',
      MCP_JWT_KEY_FILE: join(temp.dir, 'not-read.json'),
      MCP_BACKEND: '127.0.0.1:3000',
      MCP_REQUIRED_SCOPES: 'mcp:tools',
    }).exited
    assert.equal(run.code, 2)
    assert.match(run.stderr, /^ {2}- MCP_REQUIRED_SCOPES is not a variable of this gateway; did you mean MCP_REQUIRED_SCOPE\?$/m)
  })

  test('a JWKS file holding a private key, and unreadable TLS files', async () => {
    const keys = await createTestKeys()
    const path = join(temp.dir, 'private.json')
    await writeFile(path, JSON.stringify({ keys: [{ ...keys.rsa.publicJwk, d: 'private-part' }] }))
    const run = await startCli({
      MCP_CANONICAL_URI: 'https://mcp.example.com/mcp',
      MCP_AUTHORIZATION_SERVER: 'https://as.example.com',
      MCP_JWT_KEY_FILE: path,
      MCP_BACKEND: '127.0.0.1:3000',
      MCP_TLS: 'on',
      MCP_SSL_CERT_FILE: join(temp.dir, 'absent-cert.pem'),
      MCP_SSL_CERT_KEY_FILE: join(temp.dir, 'absent-key.pem'),
    }).exited
    assert.equal(run.code, 2)
    assert.match(run.stderr, new RegExp(`- MCP_JWT_KEY_FILE=${path} holds private key material`))
    assert.match(run.stderr, /- MCP_SSL_CERT_FILE=\S+absent-cert\.pem is not readable \(ENOENT\)/)
    assert.match(run.stderr, /- MCP_SSL_CERT_KEY_FILE=\S+absent-key\.pem is not readable \(ENOENT\)/)
    assert.ok(!run.stderr.includes('private-part'), 'the key material is printed')
  })

  test('a port already in use: exit 1 naming MCP_LISTEN_PORT', async () => {
    const blocker: Server = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const port = (blocker.address() as { port: number }).port
    try {
      const keys = await createTestKeys()
      const run = await startCli({
        MCP_LISTEN_HOST: '127.0.0.1',
        MCP_LISTEN_PORT: String(port),
        MCP_CANONICAL_URI: `http://127.0.0.1:${port}/mcp`,
        MCP_AUTHORIZATION_SERVER: 'https://as.example.com',
        MCP_JWT_KEY_FILE: await keys.writeJwksFile(temp.dir, 'in-use.json'),
        MCP_BACKEND: '127.0.0.1:3000',
        MCP_LOG_LEVEL: 'silent',
      }).exited
      assert.equal(run.code, 1, run.stderr)
      assert.match(run.stderr, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use \\(MCP_LISTEN_PORT\\)`))
    } finally {
      await new Promise((resolve) => blocker.close(resolve))
    }
  })
})

describe('serve: a valid configuration', () => {
  let backend: RawBackend
  let temp: { dir: string; remove(): Promise<void> }

  before(async () => {
    temp = await makeTempDir()
    backend = await startRawBackend((_req, res) => {
      res.end()
    })
  })
  after(async () => {
    await backend?.close()
    await temp?.remove()
  })

  test('listens, answers, and exits 0 on SIGTERM', async () => {
    const port = await reservePort()
    const keys = await createTestKeys()
    const cli = startCli({
      MCP_LISTEN_HOST: '127.0.0.1',
      MCP_LISTEN_PORT: String(port),
      MCP_CANONICAL_URI: `http://127.0.0.1:${port}/mcp`,
      MCP_AUTHORIZATION_SERVER: 'https://as.example.com',
      MCP_JWT_KEY_FILE: await keys.writeJwksFile(temp.dir),
      MCP_BACKEND: backend.origin,
      MCP_REQUIRED_SCOPE: 'mcp:read',
    })
    try {
      await waitFor(() => cli.output().stdout.includes('listening'), 'the CLI to log "listening"', 10_000)
      const health = await send(`http://127.0.0.1:${port}/healthz`)
      assert.equal(health.status, 200)
      const challenge = await send(`http://127.0.0.1:${port}/mcp`, { method: 'POST', body: '{}' })
      assert.equal(challenge.status, 401)
      assert.equal(
        challenge.headers['www-authenticate'],
        withDpopChallenge(`Bearer resource_metadata="http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp", scope="mcp:read"`).join(', '),
      )
    } finally {
      cli.kill('SIGTERM')
    }
    const run = await cli.exited
    assert.equal(run.code, 0, run.stderr)
    assert.equal(await portInUse(port), false)
  })
})

describe('serve: the authorization server at start (issue 12 items 4 and 5)', () => {
  let as: AuthorizationServer
  let backend: RawBackend
  let port: number
  let canonical: string

  before(async () => {
    port = await reservePort()
    canonical = `http://127.0.0.1:${port}/mcp`
    as = await startAuthorizationServer({ resources: { [canonical]: { scope: 'mcp:read', format: 'jwt' } } })
    backend = await startRawBackend((_req, res) => {
      res.setHeader('content-type', 'application/json')
      res.end('{"jsonrpc":"2.0","id":1,"result":{}}')
    })
  })
  after(async () => {
    await backend?.close()
    await as?.close()
  })

  const env = (extra: Record<string, string>): Record<string, string> => ({
    MCP_LISTEN_HOST: '127.0.0.1',
    MCP_LISTEN_PORT: String(port),
    MCP_CANONICAL_URI: canonical,
    MCP_BACKEND: backend.origin,
    MCP_REQUIRED_SCOPE: 'mcp:read',
    MCP_AUDIT_LOG: 'off',
    ...extra,
  })

  test('the issuer alone is enough: keys are discovered (RFC 8414, then OIDC) and its tokens accepted', async () => {
    const cli = startCli(env({ MCP_AUTHORIZATION_SERVER: as.issuer }))
    try {
      await waitFor(() => cli.output().stdout.includes('listening'), 'the CLI to log "listening"', 10_000)
      const token = await as.clientCredentialsToken({ resource: canonical, scope: 'mcp:read' })
      const call = await send(canonical, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
      })
      assert.equal(call.status, 200, call.body)
    } finally {
      cli.kill('SIGTERM')
    }
    assert.equal((await cli.exited).code, 0)
  })

  test('an issuer that differs from the published one by a trailing slash: exit 2 with the finding of `check`', async () => {
    const run = await startCli(env({ MCP_AUTHORIZATION_SERVER: `${as.issuer}/` })).exited
    assert.equal(run.code, 2, run.stderr)
    assert.equal(run.stdout, '')
    assert.match(run.stderr, /^mcp-resource-gateway: cannot start: the keys that verify tokens do not load:$/m)
    assert.match(run.stderr, /^FAIL {2}as\.issuer .*they differ only by a trailing slash, which strict clients still reject/m)
    assert.ok(
      run.stderr.includes(`fix: set MCP_AUTHORIZATION_SERVER (authorizationServers[0].issuer) to "${as.issuer}" exactly`),
      run.stderr,
    )
    assert.ok(!run.stderr.includes('MCP_START_WITHOUT_KEYS'), 'waiting would not help: no hint to start anyway')
    assert.equal(await portInUse(port), false)
  })

  test('an authorization server that cannot be reached: exit 1, with every discovery URL tried and the opt-in named', async () => {
    const down = `http://127.0.0.1:${await reservePort()}`
    const run = await startCli(env({ MCP_AUTHORIZATION_SERVER: down })).exited
    assert.equal(run.code, 1, run.stderr)
    assert.match(run.stderr, /^FAIL {2}as\.metadata .*no RFC 8414 or OIDC discovery document answered \(.*oauth-authorization-server -> unreachable \(ECONNREFUSED\)/m)
    assert.match(run.stderr, /set MCP_START_WITHOUT_KEYS=on/)
    assert.equal(await portInUse(port), false)
  })

  test('a JWKS URL that cannot be reached: exit 1 naming it', async () => {
    const jwks = `http://127.0.0.1:${await reservePort()}/jwks`
    const run = await startCli(env({ MCP_AUTHORIZATION_SERVER: as.issuer, MCP_JWKS_URI: jwks })).exited
    assert.equal(run.code, 1, run.stderr)
    assert.match(run.stderr, new RegExp(`^FAIL {2}as\\.jwks .*the JWKS at ${jwks} is unreachable \\(ECONNREFUSED\\)`, 'm'))
  })

  test('MCP_START_WITHOUT_KEYS=on keeps the degraded start: it listens, /readyz fails, tokens get 503', async () => {
    const down = `http://127.0.0.1:${await reservePort()}`
    const cli = startCli(env({ MCP_AUTHORIZATION_SERVER: down, MCP_START_WITHOUT_KEYS: 'on' }))
    try {
      await waitFor(() => cli.output().stdout.includes('listening'), 'the CLI to log "listening"', 10_000)
      assert.equal((await send(`http://127.0.0.1:${port}/readyz`)).status, 503)
      // A token of that issuer (signed with a key it would never publish): no keys, so 503, not 401.
      const keys = await createTestKeys()
      const token = await mintJwt({ key: keys.rsa, claims: accessTokenClaims({ issuer: down, audience: canonical, scope: 'mcp:read' }) })
      const call = await send(canonical, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
      })
      assert.equal(call.status, 503, call.body)
    } finally {
      cli.kill('SIGTERM')
    }
    assert.equal((await cli.exited).code, 0)
  })
})
