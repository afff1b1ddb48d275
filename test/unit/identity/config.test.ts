import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../../src/config/load.js'
import { ConfigError } from '../../../src/errors.js'

// Issue 15: the `upstreamIdentity` block is checked at start, every problem named by its
// variable or file key; secrets and keys come from files only.

const BASE = {
  MCP_CANONICAL_URI: 'https://mcp.example.com/mcp',
  MCP_AUTHORIZATION_SERVER: 'https://as.example.com',
  MCP_JWKS_URI: 'https://as.example.com/jwks',
  MCP_BACKEND: 'http://127.0.0.1:3000',
}

let dir: string
let secretPath: string
let ecKeyPath: string
let edKeyPath: string
let rsaKeyPath: string
let notKeyPath: string

async function writePrivate(name: string, text: string): Promise<string> {
  const path = join(dir, name)
  await writeFile(path, text)
  await chmod(path, 0o600)
  return path
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'identity-config-test-'))
  secretPath = await writePrivate('secret', 'exchange-secret\n')
  const pkcs8 = { format: 'pem', type: 'pkcs8' } as const
  ecKeyPath = await writePrivate('ec.pem', generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding: { format: 'pem', type: 'spki' }, privateKeyEncoding: pkcs8 }).privateKey)
  edKeyPath = await writePrivate('ed.pem', generateKeyPairSync('ed25519', { publicKeyEncoding: { format: 'pem', type: 'spki' }, privateKeyEncoding: pkcs8 }).privateKey)
  rsaKeyPath = await writePrivate('rsa.pem', generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { format: 'pem', type: 'spki' }, privateKeyEncoding: pkcs8 }).privateKey)
  notKeyPath = await writePrivate('not-a-key.pem', 'hello')
})
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function problemsOf(env: Record<string, string>, file?: string): Promise<readonly string[]> {
  try {
    await loadConfig({ env: { ...BASE, ...env }, argv: file === undefined ? [] : ['--config', file] })
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`)
    return error.problems
  }
  assert.fail('expected a ConfigError')
}

describe('upstreamIdentity configuration', () => {
  test('the default is none: nothing about the caller goes upstream', async () => {
    const config = await loadConfig({ env: BASE })
    assert.deepEqual(config.upstreamIdentity, { mode: 'none' })
  })

  test('exchange from the environment: client id, secret file, audience; the secret never prints', async () => {
    const config = await loadConfig({
      env: {
        ...BASE,
        MCP_UPSTREAM_IDENTITY: 'exchange',
        MCP_EXCHANGE_CLIENT_ID: 'gw',
        MCP_EXCHANGE_CLIENT_SECRET_FILE: secretPath,
        MCP_UPSTREAM_AUDIENCE: 'https://backend.example.com',
        MCP_EXCHANGE_SCOPE: 'backend:read backend:write',
      },
    })
    const identity = config.upstreamIdentity
    assert.equal(identity.mode, 'exchange')
    if (identity.mode !== 'exchange') return
    assert.equal(identity.flavour, 'rfc8693')
    assert.equal(identity.issuer, 'https://as.example.com')
    assert.equal(identity.tokenEndpoint, undefined)
    assert.deepEqual(identity.scope, ['backend:read', 'backend:write'])
    assert.equal(identity.cacheMarginMs, 60_000)
    assert.equal(identity.clientAuth.method, 'client_secret_basic')
    if (identity.clientAuth.method === 'client_secret_basic') assert.equal(identity.clientAuth.secret.reveal(), 'exchange-secret')
    assert.ok(!JSON.stringify(config).includes('exchange-secret'))
  })

  test('exchange: each missing piece is named, and a secret in the environment is refused', async () => {
    const problems = await problemsOf({ MCP_UPSTREAM_IDENTITY: 'exchange', MCP_EXCHANGE_CLIENT_SECRET: 'x' })
    const has = (start: string, phrase: string) =>
      assert.ok(problems.some((p) => p.startsWith(start) && p.includes(phrase)), `${start} / ${phrase} in\n${problems.join('\n')}`)
    has('MCP_EXCHANGE_CLIENT_SECRET:', 'MCP_EXCHANGE_CLIENT_SECRET_FILE')
    has('MCP_EXCHANGE_CLIENT_ID:', 'is required with mode exchange')
    has('MCP_EXCHANGE_CLIENT_SECRET_FILE:', 'exactly one of')
    has('MCP_UPSTREAM_AUDIENCE:', 'downstream audience')
  })

  test('entra-obo needs a scope and has no actor token', async () => {
    const yaml = join(dir, 'obo.yaml')
    await writeFile(
      yaml,
      `upstreamIdentity:\n  mode: exchange\n  exchange:\n    flavour: entra-obo\n    clientId: gw\n    clientSecretFile: ${secretPath}\n    actorToken: client-credentials\n`,
    )
    const problems = await problemsOf({}, yaml)
    assert.deepEqual(problems, [
      `${yaml}: upstreamIdentity.exchange.scope: entra-obo needs a scope like api://downstream/.default`,
      `${yaml}: upstreamIdentity.exchange.actorToken: is an RFC 8693 parameter; entra-obo has no actor token`,
    ])
  })

  test('assertion: the algorithm comes from the key (ES256, EdDSA, RS256), the JWKS holds the public half only', async () => {
    for (const [path, alg] of [
      [ecKeyPath, 'ES256'],
      [edKeyPath, 'EdDSA'],
      [rsaKeyPath, 'RS256'],
    ] as const) {
      const config = await loadConfig({ env: { ...BASE, MCP_UPSTREAM_IDENTITY: 'assertion', MCP_ASSERTION_KEY_FILE: path } })
      const identity = config.upstreamIdentity
      assert.equal(identity.mode, 'assertion')
      if (identity.mode !== 'assertion') return
      assert.equal(identity.key.alg, alg)
      assert.equal(identity.key.publicJwk['alg'], alg)
      assert.equal(identity.key.publicJwk['d'], undefined)
      assert.match(identity.key.kid, /^[A-Za-z0-9_-]{43}$/)
      assert.equal(identity.audience, 'http://127.0.0.1:3000/')
    }
  })

  test('assertion: a missing key file and a file that is not a key are named', async () => {
    assert.ok((await problemsOf({ MCP_UPSTREAM_IDENTITY: 'assertion' })).some((p) => p.includes('MCP_ASSERTION_KEY_FILE')))
    const problems = await problemsOf({ MCP_UPSTREAM_IDENTITY: 'assertion', MCP_ASSERTION_KEY_FILE: notKeyPath })
    assert.deepEqual(problems, [`MCP_ASSERTION_KEY_FILE=${notKeyPath} is not a PEM private key`])
  })

  test('headers: names are lower-cased; headers HTTP or the gateway own are refused', async () => {
    const yaml = join(dir, 'headers.yaml')
    await writeFile(yaml, 'upstreamIdentity:\n  mode: headers\n  headers:\n    X-MCP-Subject: sub\n    Host: sub\n    authorization: sub\n')
    const problems = await problemsOf({}, yaml)
    assert.equal(problems.length, 2, problems.join('\n'))
    assert.ok(problems.every((p) => p.includes('the gateway or HTTP itself owns')))
    const ok = join(dir, 'headers-ok.yaml')
    await writeFile(ok, 'upstreamIdentity:\n  mode: headers\n  headers:\n    X-MCP-Subject: sub\n')
    const config = await loadConfig({ env: BASE, argv: ['--config', ok] })
    assert.deepEqual(config.upstreamIdentity, { mode: 'headers', headers: new Map([['x-mcp-subject', 'sub']]) })
  })
})
