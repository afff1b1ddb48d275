import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadConfig } from '../../../src/config/load.js'
import { fail, unreachable, type CheckResult } from '../../../src/check/result.js'
import { checkKeysAtStart, startUpExitCode } from '../../../src/check/start-up-checks.js'
import { makeTempDir } from '../../support/gateway.js'
import { createTestKeys } from '../../support/tokens.js'

// Issue 12 item 4: which findings stop `serve`, and with which exit code.

const mismatch = fail('as.issuer', 'the metadata names issuer "a", the configuration "a/"', 'set it')
const refused = unreachable(fail('as.metadata', 'no RFC 8414 or OIDC discovery document answered', 'reach it'))

describe('startUpExitCode', () => {
  const rows: { name: string; failures: CheckResult[]; code: 0 | 1 | 2 }[] = [
    { name: 'nothing failed: start', failures: [], code: 0 },
    { name: 'only servers that could not be reached: 1, a later start may pass', failures: [refused, refused], code: 1 },
    { name: 'a setting to correct: 2', failures: [mismatch], code: 2 },
    { name: 'both: 2, waiting alone would not help', failures: [refused, mismatch], code: 2 },
  ]
  for (const row of rows) {
    test(row.name, () => assert.equal(startUpExitCode(row.failures), row.code))
  }
})

describe('checkKeysAtStart asks the network only for keys that come from it', () => {
  let temp: { dir: string; remove(): Promise<void> }
  before(async () => {
    temp = await makeTempDir()
  })
  after(async () => {
    await temp?.remove()
  })

  const BASE = {
    MCP_CANONICAL_URI: 'https://mcp.example.com/mcp',
    MCP_AUTHORIZATION_SERVER: 'https://as.example.com',
    MCP_BACKEND: '127.0.0.1:3000',
  }
  const asked: string[] = []
  const recording: typeof fetch = async (input) => {
    asked.push(String(input))
    throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } })
  }

  test('a JWKS file or introspection only: nothing fetched, nothing failed', async () => {
    asked.length = 0
    const keys = await createTestKeys()
    const fromFile = await loadConfig({ env: { ...BASE, MCP_JWT_KEY_FILE: await keys.writeJwksFile(temp.dir) } })
    assert.deepEqual(await checkKeysAtStart(fromFile, { fetch: recording }), [])
    const secret = join(temp.dir, 'secret')
    await writeFile(secret, 'x', { mode: 0o600 })
    const introspect = await loadConfig({
      env: { ...BASE, MCP_AUTH_MODE: 'introspect', MCP_INTROSPECT_ENDPOINT: 'https://as.example.com/introspect', MCP_CLIENT_ID: 'gw', MCP_CLIENT_SECRET_FILE: secret },
    })
    assert.deepEqual(await checkKeysAtStart(introspect, { fetch: recording }), [])
    assert.deepEqual(asked, [])
  })

  test('a JWKS URL: only it is fetched (no discovery), and a refused connection is marked unreachable', async () => {
    asked.length = 0
    const config = await loadConfig({ env: { ...BASE, MCP_JWKS_URI: 'https://as.example.com/jwks' } })
    const failures = await checkKeysAtStart(config, { fetch: recording })
    assert.deepEqual(asked, ['https://as.example.com/jwks'])
    assert.deepEqual(failures.map((f) => [f.id, f.unreachable]), [['as.jwks', true]])
  })

  test('the issuer alone: its discovery URLs, in order; the JWKS is not asked once they all fail', async () => {
    asked.length = 0
    const config = await loadConfig({ env: BASE })
    const failures = await checkKeysAtStart(config, { fetch: recording })
    assert.deepEqual(asked, ['https://as.example.com/.well-known/oauth-authorization-server', 'https://as.example.com/.well-known/openid-configuration'])
    assert.deepEqual(failures.map((f) => [f.id, f.unreachable]), [['as.metadata', true]])
    assert.equal(startUpExitCode(failures), 1)
  })
})
