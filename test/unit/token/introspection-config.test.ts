import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { stringify } from 'yaml'
import { loadConfig } from '../../../src/config/load.js'
import { ConfigError } from '../../../src/errors.js'

/**
 * Issue 4 configuration: `MCP_AUTH_MODE=introspect` with nginx-mcp-resource's variables, the
 * secret-file rules, `auto` mode, and which issuer receives opaque tokens.
 */

const SECRET = 'top-secret-value-1234'
let dir: string
let secretFile: string
let looseSecretFile: string

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'mcp-gw-introspection-config-'))
  secretFile = writeFile('secret', `${SECRET}\r\n`, 0o600)
  looseSecretFile = writeFile('loose-secret', `${SECRET}\n`, 0o644)
})
after(() => rmSync(dir, { recursive: true, force: true }))

function writeFile(name: string, content: string, mode = 0o600): string {
  const path = join(dir, name)
  writeFileSync(path, content)
  chmodSync(path, mode)
  return path
}

const BASE = {
  MCP_CANONICAL_URI: 'https://mcp.example.com/mcp',
  MCP_AUTHORIZATION_SERVER: 'https://as.example.com',
  MCP_BACKEND: '127.0.0.1:3000',
  MCP_LISTEN_HOST: '127.0.0.1',
}
const INTROSPECT = {
  ...BASE,
  MCP_AUTH_MODE: 'introspect',
  MCP_INTROSPECT_ENDPOINT: 'https://as.example.com/introspect',
  MCP_CLIENT_ID: 'gateway',
}

async function problemsOf(promise: Promise<unknown>): Promise<string[]> {
  try {
    await promise
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems]
    throw error
  }
  assert.fail('expected a ConfigError')
}

function assertNoSecret(text: string): void {
  assert.ok(!text.includes(SECRET), `the secret leaked into: ${text}`)
}

describe('introspect mode from MCP_* variables', () => {
  test('reads the secret file, strips the trailing newline, and keeps nginx-mcp-resource defaults', async () => {
    const config = await loadConfig({ env: { ...INTROSPECT, MCP_CLIENT_SECRET_FILE: secretFile } })
    const as = config.authorizationServers[0]
    assert.ok(as?.introspection !== undefined)
    assert.equal(as.mode, 'introspect')
    assert.equal(as.verifiesJwt, false)
    assert.equal(as.introspection.endpoint, 'https://as.example.com/introspect')
    assert.equal(as.introspection.clientId, 'gateway')
    assert.equal(as.introspection.clientSecret.reveal(), SECRET)
    assert.equal(as.introspection.authMethod, 'client_secret_basic')
    assert.equal(as.introspection.cacheMaxTtl, 60_000)
    assert.equal(as.introspection.inactiveCacheTtl, 5_000)
    assert.equal(as.introspection.opaqueTokens, true)
    assert.deepEqual(config.notices.filter((n) => n.includes('secret')), [])
  })

  test('the secret never shows in a config dump', async () => {
    const config = await loadConfig({ env: { ...INTROSPECT, MCP_CLIENT_SECRET_FILE: secretFile } })
    assertNoSecret(JSON.stringify(config))
    assertNoSecret(inspect(config, { depth: 10 }))
    assertNoSecret(String(config.authorizationServers[0]?.introspection?.clientSecret))
  })

  test('MCP_INTROSPECT_AUTH_METHOD and MCP_INTROSPECT_CACHE_MAX_TTL', async () => {
    const config = await loadConfig({
      env: { ...INTROSPECT, MCP_CLIENT_SECRET_FILE: secretFile, MCP_INTROSPECT_AUTH_METHOD: 'post', MCP_INTROSPECT_CACHE_MAX_TTL: '5m' },
    })
    assert.equal(config.authorizationServers[0]?.introspection?.authMethod, 'client_secret_post')
    assert.equal(config.authorizationServers[0]?.introspection?.cacheMaxTtl, 300_000)
    const problems = await problemsOf(
      loadConfig({ env: { ...INTROSPECT, MCP_CLIENT_SECRET_FILE: secretFile, MCP_INTROSPECT_AUTH_METHOD: 'private_key_jwt' } }),
    )
    assert.ok(problems.some((p) => p.startsWith('MCP_INTROSPECT_AUTH_METHOD')), problems.join('\n'))
  })

  test('MCP_CLIENT_SECRET is refused with the reason, without echoing the value', async () => {
    const problems = await problemsOf(loadConfig({ env: { ...INTROSPECT, MCP_CLIENT_SECRET: SECRET, MCP_CLIENT_SECRET_FILE: secretFile } }))
    const refusal = problems.find((p) => p.startsWith('MCP_CLIENT_SECRET:'))
    assert.ok(refusal !== undefined, problems.join('\n'))
    assert.match(refusal, /docker inspect/)
    assert.match(refusal, /MCP_CLIENT_SECRET_FILE/)
    assertNoSecret(problems.join('\n'))
  })

  test('a secret file readable by group or others is a notice, and an error with --strict', async () => {
    const config = await loadConfig({ env: { ...INTROSPECT, MCP_CLIENT_SECRET_FILE: looseSecretFile } })
    const notice = config.notices.find((n) => n.startsWith(`MCP_CLIENT_SECRET_FILE=${looseSecretFile}`))
    assert.ok(notice !== undefined, config.notices.join('\n'))
    assert.match(notice, /readable by group and others \(mode 644\)/)
    assert.match(notice, /chmod 600/)
    assertNoSecret(config.notices.join('\n'))

    const problems = await problemsOf(loadConfig({ env: { ...INTROSPECT, MCP_CLIENT_SECRET_FILE: looseSecretFile }, argv: ['--strict'] }))
    assert.ok(problems.some((p) => p.startsWith(`MCP_CLIENT_SECRET_FILE=${looseSecretFile} is readable by group`)), problems.join('\n'))
    assertNoSecret(problems.join('\n'))
  })

  test('missing, empty or unreadable pieces are named by their variable', async () => {
    const missing = await problemsOf(loadConfig({ env: { ...BASE, MCP_AUTH_MODE: 'introspect' } }))
    for (const name of ['MCP_CLIENT_ID', 'MCP_CLIENT_SECRET_FILE', 'MCP_INTROSPECT_ENDPOINT']) {
      assert.ok(missing.some((p) => p.startsWith(`${name} is required`)), `${name} in\n${missing.join('\n')}`)
    }
    const empty = writeFile('empty', '\n')
    assert.ok((await problemsOf(loadConfig({ env: { ...INTROSPECT, MCP_CLIENT_SECRET_FILE: empty } }))).some((p) => p.endsWith('is empty')))
    const absent = join(dir, 'absent')
    assert.ok(
      (await problemsOf(loadConfig({ env: { ...INTROSPECT, MCP_CLIENT_SECRET_FILE: absent } }))).some((p) =>
        p.startsWith(`MCP_CLIENT_SECRET_FILE=${absent} is not readable (ENOENT)`),
      ),
    )
  })

  test('a plain-http endpoint is refused except on loopback', async () => {
    const remote = await problemsOf(
      loadConfig({ env: { ...INTROSPECT, MCP_CLIENT_SECRET_FILE: secretFile, MCP_INTROSPECT_ENDPOINT: 'http://as.example.com/introspect' } }),
    )
    assert.ok(remote.some((p) => p.startsWith('MCP_INTROSPECT_ENDPOINT: must be https')), remote.join('\n'))
    const loopback = await loadConfig({
      env: { ...INTROSPECT, MCP_CLIENT_SECRET_FILE: secretFile, MCP_INTROSPECT_ENDPOINT: 'http://127.0.0.1:9000/introspect' },
    })
    assert.equal(loopback.authorizationServers[0]?.introspection?.endpoint, 'http://127.0.0.1:9000/introspect')
  })
})

describe('auto mode', () => {
  test('is the default: a key source means jwt, a client means introspection, both means both', async () => {
    const jwtOnly = await loadConfig({ env: { ...BASE, MCP_JWKS_URI: 'https://as.example.com/jwks' } })
    assert.equal(jwtOnly.authorizationServers[0]?.mode, 'jwt')
    const introspectOnly = await loadConfig({ env: { ...INTROSPECT, MCP_AUTH_MODE: 'auto', MCP_CLIENT_SECRET_FILE: secretFile } })
    assert.equal(introspectOnly.authorizationServers[0]?.mode, 'introspect')
    const both = await loadConfig({ env: { ...INTROSPECT, MCP_AUTH_MODE: 'auto', MCP_CLIENT_SECRET_FILE: secretFile, MCP_JWT_DISCOVERY: 'on' } })
    assert.equal(both.authorizationServers[0]?.mode, 'auto')
    assert.equal(both.authorizationServers[0]?.verifiesJwt, true)
    assert.equal(both.authorizationServers[0]?.introspection?.opaqueTokens, true)
  })

  test('with neither, keys are discovered from the issuer', async () => {
    const config = await loadConfig({ env: BASE })
    assert.equal(config.authorizationServers[0]?.mode, 'jwt')
    assert.equal(config.authorizationServers[0]?.discovery, true)
  })

  test('with discovery turned off too, it says what to configure without naming MCP_AUTH_MODE, which was not set', async () => {
    const problems = await problemsOf(loadConfig({ env: { ...BASE, MCP_JWT_DISCOVERY: 'off' } }))
    assert.ok(
      problems.some((p) => p.startsWith('MCP_JWT_DISCOVERY: verifying JWTs needs a key source') && p.includes('or validate tokens by introspection')),
      problems.join('\n'),
    )
    assert.ok(!problems.some((p) => p.includes('MCP_AUTH_MODE')), problems.join('\n'))
  })

  test('jwt mode ignores introspection settings, with a notice', async () => {
    const config = await loadConfig({
      env: { ...INTROSPECT, MCP_AUTH_MODE: 'jwt', MCP_JWKS_URI: 'https://as.example.com/jwks', MCP_CLIENT_SECRET_FILE: secretFile },
    })
    assert.equal(config.authorizationServers[0]?.introspection, undefined)
    assert.ok(config.notices.some((n) => n.startsWith('MCP_CLIENT_ID is ignored')))
  })
})

describe('several issuers using introspection', () => {
  const issuer = (n: number, opaqueTokens?: boolean) => ({
    issuer: `https://as${n}.example.com`,
    mode: 'introspect',
    introspection: {
      endpoint: `https://as${n}.example.com/introspect`,
      clientId: 'gateway',
      clientSecretFile: secretFile,
      ...(opaqueTokens === undefined ? {} : { opaqueTokens }),
    },
  })
  const load = (servers: unknown[]) => {
    const file = join(dir, `multi-${Math.random().toString(36).slice(2)}.yaml`)
    writeFileSync(
      file,
      stringify({
        resource: { canonicalUri: 'https://mcp.example.com/mcp' },
        backend: { url: '127.0.0.1:3000' },
        listen: { host: '127.0.0.1' },
        authorizationServers: servers,
      }),
    )
    return loadConfig({ env: {}, argv: ['--config', file] })
  }

  test('must say which one receives opaque tokens', async () => {
    const problems = await problemsOf(load([issuer(1), issuer(2)]))
    assert.ok(problems.some((p) => p.includes('mark the one that receives opaque tokens')), problems.join('\n'))
    assert.ok((await problemsOf(load([issuer(1, true), issuer(2, true)]))).some((p) => p.includes('opaqueTokens')))
  })

  test('the marked one receives them; the other only sees JWTs that name it', async () => {
    const config = await load([issuer(1, false), issuer(2, true)])
    assert.deepEqual(
      config.authorizationServers.map((as) => as.introspection?.opaqueTokens),
      [false, true],
    )
    const none = await load([issuer(1, false), issuer(2, false)])
    assert.deepEqual(
      none.authorizationServers.map((as) => as.introspection?.opaqueTokens),
      [false, false],
    )
  })

  test('an issuer listed twice (also through additionalIssuers) is a problem', async () => {
    const problems = await problemsOf(
      load([
        { issuer: 'https://as1.example.com', jwksUri: 'https://as1.example.com/jwks' },
        { issuer: 'https://as2.example.com', jwksUri: 'https://as2.example.com/jwks', additionalIssuers: ['https://as1.example.com'] },
      ]),
    )
    assert.ok(problems.some((p) => p.includes('"https://as1.example.com" is listed twice')), problems.join('\n'))
  })

  test('unknown keys in an issuer are refused by name', async () => {
    const problems = await problemsOf(load([{ issuer: 'https://as1.example.com', jwksUri: 'https://as1.example.com/jwks', introspectionEndpoint: 'x' }]))
    assert.ok(problems.some((p) => p.includes('introspectionEndpoint')), problems.join('\n'))
  })
})

describe('HMAC secrets and issuer policy settings', () => {
  const longSecret = 'a'.repeat(32)
  test('HS256 only with an explicit secret file, announced as development-only', async () => {
    const file = writeFile('hmac', `${longSecret}\n`)
    const config = await loadConfig({ env: { ...BASE, MCP_HMAC_SECRET_FILE: file } })
    const as = config.authorizationServers[0]
    assert.deepEqual(as?.algorithms, ['HS256'])
    assert.equal(as?.hmacSecret?.reveal(), longSecret)
    assert.ok(config.notices.some((n) => n.startsWith('MCP_HMAC_SECRET_FILE') && n.includes('development only')))
    assert.ok(!JSON.stringify(config).includes(longSecret))
  })

  test('too short a secret, HS* without a secret, and mixing with public keys are refused', async () => {
    const short = writeFile('hmac-short', 'short-secret')
    assert.ok(
      (await problemsOf(loadConfig({ env: { ...BASE, MCP_HMAC_SECRET_FILE: short } }))).some((p) => p.includes('need at least 32 (RFC 7518 §3.2)')),
    )
    const file = join(dir, 'hs.yaml')
    writeFileSync(
      file,
      stringify({
        resource: { canonicalUri: 'https://mcp.example.com/mcp' },
        backend: { url: '127.0.0.1:3000' },
        listen: { host: '127.0.0.1' },
        authorizationServers: [{ issuer: 'https://as.example.com', jwksUri: 'https://as.example.com/jwks', algorithms: ['RS256', 'HS256'] }],
      }),
    )
    const problems = await problemsOf(loadConfig({ env: {}, argv: ['--config', file] }))
    assert.ok(problems.some((p) => p.includes('HS256 needs an explicitly configured secret')), problems.join('\n'))
    assert.ok((await problemsOf(loadConfig({ env: { ...BASE, MCP_HMAC_SECRET: longSecret } }))).some((p) => p.startsWith('MCP_HMAC_SECRET:')))
  })

  test('MCP_MAX_TOKEN_LIFETIME and MCP_REQUIRED_CLAIMS', async () => {
    const config = await loadConfig({
      env: { ...BASE, MCP_JWKS_URI: 'https://as.example.com/jwks', MCP_MAX_TOKEN_LIFETIME: '15m', MCP_REQUIRED_CLAIMS: 'sub,client_id' },
    })
    assert.equal(config.authorizationServers[0]?.maxTokenLifetime, 900_000)
    assert.deepEqual(config.authorizationServers[0]?.requiredClaims, ['sub', 'client_id'])
  })
})

describe('redis section', () => {
  test('MCP_REDIS_URL with host:port; the password comes from a file and stays out of the URL', async () => {
    const passwordFile = writeFile('redis-password', `${SECRET}\n`)
    const config = await loadConfig({
      env: { ...BASE, MCP_JWKS_URI: 'https://as.example.com/jwks', MCP_REDIS_URL: '127.0.0.1:6379', MCP_REDIS_PASSWORD_FILE: passwordFile },
    })
    assert.equal(config.redis?.url, 'redis://127.0.0.1:6379')
    assert.equal(config.redis?.password?.reveal(), SECRET)
    assertNoSecret(JSON.stringify(config))
  })

  test('a password inside MCP_REDIS_URL is a notice (an error with --strict), never echoed', async () => {
    const env = { ...BASE, MCP_JWKS_URI: 'https://as.example.com/jwks', MCP_REDIS_URL: `redis://:${SECRET}@127.0.0.1:6379/2` }
    const config = await loadConfig({ env })
    assert.equal(config.redis?.url, 'redis://127.0.0.1:6379/2')
    assert.ok(config.notices.some((n) => n.startsWith('MCP_REDIS_URL holds a password')))
    assertNoSecret(JSON.stringify(config))
    assertNoSecret(config.notices.join('\n'))
    const problems = await problemsOf(loadConfig({ env, argv: ['--strict'] }))
    assert.ok(problems.some((p) => p.startsWith('MCP_REDIS_URL holds a password')))
    assertNoSecret(problems.join('\n'))
  })

  test('a bad URL is refused without echoing it', async () => {
    const problems = await problemsOf(loadConfig({ env: { ...BASE, MCP_JWKS_URI: 'https://as.example.com/jwks', MCP_REDIS_URL: `http://u:${SECRET}@h` } }))
    assert.ok(problems.some((p) => p.startsWith('MCP_REDIS_URL: expected redis://')), problems.join('\n'))
    assertNoSecret(problems.join('\n'))
  })
})

describe('MCP_INTROSPECT_MAX_RATE', () => {
  const load = (extra: Record<string, string>) =>
    loadConfig({ env: { ...INTROSPECT, MCP_CLIENT_SECRET_FILE: secretFile, ...extra }, argv: [] })

  test('defaults to 50 calls per second per client address and 500 in total', async () => {
    const config = await load({})
    assert.deepEqual(config.authorizationServers[0]?.introspection?.maxRate, { perClient: 50, total: 500 })
  })

  test('`<per client>,<total>` sets both; 0 turns a cap off', async () => {
    const config = await load({ MCP_INTROSPECT_MAX_RATE: '5, 0' })
    assert.deepEqual(config.authorizationServers[0]?.introspection?.maxRate, { perClient: 5, total: 0 })
  })

  test('anything else is a problem naming the variable', async () => {
    const problems = await problemsOf(load({ MCP_INTROSPECT_MAX_RATE: 'fast' }))
    assert.ok(problems.some((p) => p.includes('MCP_INTROSPECT_MAX_RATE')), problems.join('\n'))
  })
})
