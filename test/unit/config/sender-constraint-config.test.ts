import { test } from 'node:test'
import assert from 'node:assert/strict'
import { loadConfig } from '../../../src/config/load.js'
import { ConfigError } from '../../../src/errors.js'

// The senderConstraint block and its variables (docs/sender-constrained-tokens.md).

const BASE = {
  MCP_CANONICAL_URI: 'https://mcp.example.com/mcp',
  MCP_AUTHORIZATION_SERVER: 'https://as.example.com',
  MCP_JWKS_URI: 'https://as.example.com/jwks',
  MCP_BACKEND: '127.0.0.1:3000',
}

async function problemsOf(env: Record<string, string>): Promise<readonly string[]> {
  try {
    await loadConfig({ env })
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error))
    return error.problems
  }
  assert.fail('expected a ConfigError')
}

test('defaults: DPoP optional with four asymmetric algorithms, 300 s window, replay cache fails closed, mTLS off', async () => {
  const config = await loadConfig({ env: BASE })
  assert.deepEqual(config.senderConstraint, {
    dpop: 'optional',
    dpopAlgorithms: ['ES256', 'EdDSA', 'RS256', 'PS256'],
    proofMaxAgeSeconds: 300,
    nonce: false,
    replayCacheSize: 100_000,
    replayCacheOnError: 'deny',
    mtls: 'off',
    nonceSecret: undefined,
  })
})

test('MCP_DPOP and MCP_MTLS_BOUND_TOKENS set the modes', async () => {
  const config = await loadConfig({ env: { ...BASE, MCP_DPOP: 'required' } })
  assert.equal(config.senderConstraint.dpop, 'required')
  const problems = await problemsOf({ ...BASE, MCP_DPOP: 'sometimes' })
  assert.ok(problems.some((p) => p.startsWith('MCP_DPOP')), problems.join('\n'))
})

test('mTLS binding without client certificates is refused at start, naming both ways to get them', async () => {
  const problems = await problemsOf({ ...BASE, MCP_MTLS_BOUND_TOKENS: 'optional' })
  assert.ok(problems.some((p) => p.startsWith('MCP_MTLS_BOUND_TOKENS') && p.includes('MCP_TLS_CLIENT_CA_FILE') && p.includes('forwardedCertificateHeader')), problems.join('\n'))
})

test('an unreadable client CA file is named', async () => {
  const problems = await problemsOf({ ...BASE, MCP_TLS_CLIENT_CA_FILE: '/nonexistent/ca.pem' })
  assert.ok(problems.some((p) => p.startsWith('MCP_TLS_CLIENT_CA_FILE=/nonexistent/ca.pem is not readable')), problems.join('\n'))
})

test('HMAC and none are not DPoP algorithms; a nonce key file under 32 bytes is refused', async () => {
  const { writeFile, mkdtemp, rm } = await import('node:fs/promises')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const dir = await mkdtemp(join(tmpdir(), 'sc-config-'))
  try {
    const file = join(dir, 'gateway.yaml')
    const keyFile = join(dir, 'nonce-key')
    await writeFile(keyFile, 'short\n', { mode: 0o600 })
    await writeFile(file, 'senderConstraint:\n  dpopAlgorithms: [ES256, HS256, none]\n')
    const algorithms = await problemsOf({ ...BASE, MCP_CONFIG: file })
    assert.ok(algorithms.some((p) => p.includes('senderConstraint.dpopAlgorithms')), algorithms.join('\n'))
    await writeFile(file, `senderConstraint:\n  nonce: true\n  nonceSecretFile: ${keyFile}\n`)
    const problems = await problemsOf({ ...BASE, MCP_CONFIG: file })
    assert.ok(problems.some((p) => p.includes('senderConstraint.nonceSecretFile') && p.includes('at least 32 bytes')), problems.join('\n'))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
