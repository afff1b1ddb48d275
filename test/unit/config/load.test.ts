import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { knownEnvNames } from '../../../src/config/env.js'
import { loadConfig } from '../../../src/config/load.js'
import type { Config } from '../../../src/config/normalize.js'
import { ConfigError } from '../../../src/errors.js'

// Issue 2 "Fail fast": every invalid or missing setting is reported at once, each naming the
// variable (or file key) and what was expected.

const BASE = {
  MCP_CANONICAL_URI: 'https://mcp.example.com/mcp',
  MCP_AUTHORIZATION_SERVER: 'https://as.example.com',
  MCP_JWKS_URI: 'https://as.example.com/jwks',
  MCP_BACKEND: '127.0.0.1:3000',
}

type Env = Record<string, string | undefined>

async function problemsOf(env: Env, argv: string[] = []): Promise<readonly string[]> {
  try {
    await loadConfig({ env, argv })
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`)
    assert.equal(error.message, `invalid configuration:\n${error.problems.map((p) => `  - ${p}`).join('\n')}`)
    return error.problems
  }
  assert.fail('expected loadConfig to throw a ConfigError')
}

/** Each expectation matches exactly one problem (its start and a phrase), and there are no others. */
function assertProblems(problems: readonly string[], expected: readonly [start: string, phrase: string][]): void {
  const unmatched = [...problems]
  for (const [start, phrase] of expected) {
    const i = unmatched.findIndex((p) => p.startsWith(start) && p.includes(phrase))
    assert.ok(i !== -1, `no problem starts with ${JSON.stringify(start)} and says ${JSON.stringify(phrase)} in\n${problems.join('\n')}`)
    unmatched.splice(i, 1)
  }
  assert.deepEqual(unmatched, [], 'unexpected extra problems')
}

let dir: string
let jwksPath: string
let certPath: string
let keyPath: string

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'config-load-test-'))
  jwksPath = join(dir, 'jwks.json')
  await writeFile(jwksPath, JSON.stringify({ keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', kid: 'k1' }] }))
  certPath = join(dir, 'cert.pem')
  keyPath = join(dir, 'key.pem')
  // Only readability is checked at load time; the TLS server parses them.
  await writeFile(certPath, 'cert')
  await writeFile(keyPath, 'key')
})
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('loadConfig: each startup error names its variable', () => {
  const rows: { name: string; env: Env; problems: [string, string][] }[] = [
    {
      name: 'nothing set: the three required variables',
      env: {},
      problems: [
        ['MCP_CANONICAL_URI (file key resource.canonicalUri)', 'is required but not set'],
        ['MCP_AUTHORIZATION_SERVER (file key authorizationServers.0.issuer)', 'is required but not set'],
        ['MCP_BACKEND (file key backend.url)', 'is required but not set'],
      ],
    },
    {
      name: 'canonical URI relative',
      env: { ...BASE, MCP_CANONICAL_URI: '/mcp' },
      problems: [['MCP_CANONICAL_URI: ', 'expected an absolute https URL like https://mcp.example.com/mcp (got "/mcp")']],
    },
    {
      name: 'canonical URI without a scheme',
      env: { ...BASE, MCP_CANONICAL_URI: 'mcp.example.com/mcp' },
      problems: [['MCP_CANONICAL_URI: ', 'expected an absolute https URL']],
    },
    {
      name: 'canonical URI not http(s)',
      env: { ...BASE, MCP_CANONICAL_URI: 'urn:example:mcp' },
      problems: [['MCP_CANONICAL_URI: ', 'must be an https URL; http is allowed only for loopback hosts (got "urn:example:mcp")']],
    },
    {
      name: 'canonical URI http on a non-loopback host',
      env: { ...BASE, MCP_CANONICAL_URI: 'http://mcp.example.com/mcp' },
      problems: [['MCP_CANONICAL_URI: ', 'http is allowed only for loopback hosts']],
    },
    {
      name: 'canonical URI http on a host that only looks like loopback',
      env: { ...BASE, MCP_CANONICAL_URI: 'http://localhost.example.com/mcp' },
      problems: [['MCP_CANONICAL_URI: ', 'http is allowed only for loopback hosts']],
    },
    {
      name: 'canonical URI with a fragment',
      env: { ...BASE, MCP_CANONICAL_URI: 'https://mcp.example.com/mcp#top' },
      problems: [['MCP_CANONICAL_URI: ', 'must not contain a fragment']],
    },
    {
      name: 'MCP_TLS=on without cert files',
      env: { ...BASE, MCP_TLS: 'on' },
      problems: [
        ['MCP_SSL_CERT_FILE: ', 'is required when MCP_TLS=on'],
        ['MCP_SSL_CERT_KEY_FILE: ', 'is required when MCP_TLS=on'],
      ],
    },
    {
      name: 'MCP_TLS=on with cert files that do not exist',
      env: { ...BASE, MCP_TLS: 'on', MCP_SSL_CERT_FILE: '/nonexistent/cert.pem', MCP_SSL_CERT_KEY_FILE: '/nonexistent/key.pem' },
      problems: [
        ['MCP_SSL_CERT_FILE=/nonexistent/cert.pem', 'is not readable (ENOENT)'],
        ['MCP_SSL_CERT_KEY_FILE=/nonexistent/key.pem', 'is not readable (ENOENT)'],
      ],
    },
    {
      name: 'MCP_TLS neither on nor off',
      env: { ...BASE, MCP_TLS: 'yes' },
      problems: [['MCP_TLS: ', `expected 'on' or 'off' (got "yes")`]],
    },
    {
      name: 'no key source in jwt mode: discovery turned off, and the message names that variable',
      env: { ...BASE, MCP_JWKS_URI: undefined, MCP_AUTH_MODE: 'jwt', MCP_JWT_DISCOVERY: 'off' },
      problems: [
        [
          'MCP_JWT_DISCOVERY: ',
          'verifying JWTs needs a key source, and discovery is off: set MCP_JWT_KEY_FILE (a JWKS file) or MCP_JWKS_URI, or turn discovery on (MCP_JWT_DISCOVERY=on)',
        ],
      ],
    },
    {
      name: 'an empty variable counts as unset',
      env: { ...BASE, MCP_JWKS_URI: '', MCP_JWT_DISCOVERY: 'off' },
      problems: [['MCP_JWT_DISCOVERY: ', 'needs a key source']],
    },
    {
      name: 'MCP_REQUIRED_SCOPE not among MCP_SCOPES_SUPPORTED',
      env: { ...BASE, MCP_REQUIRED_SCOPE: 'mcp:admin', MCP_SCOPES_SUPPORTED: 'mcp:read mcp:write' },
      problems: [['MCP_REQUIRED_SCOPE: ', 'required scope "mcp:admin" is missing from the supported scopes (MCP_SCOPES_SUPPORTED']],
    },
    {
      name: 'offline_access as a required scope',
      env: { ...BASE, MCP_REQUIRED_SCOPE: 'offline_access' },
      problems: [['MCP_REQUIRED_SCOPE: ', 'offline_access is not a resource scope']],
    },
    {
      name: 'a scope with a quote',
      env: { ...BASE, MCP_REQUIRED_SCOPE: 'mcp:"read"' },
      problems: [['MCP_REQUIRED_SCOPE: ', 'not a scope token']],
    },
    {
      name: 'MCP_BACKEND host without a port',
      env: { ...BASE, MCP_BACKEND: 'localhost' },
      problems: [['MCP_BACKEND: ', 'expected host:port or an http(s) URL like http://127.0.0.1:3000 (got "localhost")']],
    },
    {
      name: 'MCP_BACKEND with another scheme',
      env: { ...BASE, MCP_BACKEND: 'ftp://files.example.com:21' },
      problems: [['MCP_BACKEND: ', 'expected host:port or an http(s) URL']],
    },
    {
      name: 'MCP_BACKEND not a URL',
      env: { ...BASE, MCP_BACKEND: 'http://' },
      problems: [['MCP_BACKEND: ', 'expected host:port or an http(s) URL']],
    },
    {
      name: 'MCP_JWT_KEY_FILE missing',
      env: { ...BASE, MCP_JWKS_URI: undefined, MCP_JWT_KEY_FILE: '/nonexistent/jwks.json' },
      problems: [['MCP_JWT_KEY_FILE=/nonexistent/jwks.json', 'is not readable (ENOENT)']],
    },
    {
      name: 'bad durations',
      env: { ...BASE, MCP_CLOCK_SKEW: 'soon', MCP_JWKS_COOLDOWN: '-1', MCP_BACKEND_TIMEOUT: '5x' },
      problems: [
        ['MCP_CLOCK_SKEW: ', 'expected a duration like 500ms, 30s, 5m or 1h (got "soon")'],
        ['MCP_JWKS_COOLDOWN: ', 'expected a duration like 500ms, 30s, 5m or 1h (got "-1")'],
        ['MCP_BACKEND_TIMEOUT: ', 'expected a duration like 500ms, 30s, 5m or 1h (got "5x")'],
      ],
    },
    {
      name: 'a duration in days is not one of the units',
      env: { ...BASE, MCP_CLOCK_SKEW: '1d' },
      problems: [['MCP_CLOCK_SKEW: ', 'expected a duration']],
    },
    {
      name: 'bad size',
      env: { ...BASE, MCP_MAX_BODY_SIZE: 'huge' },
      problems: [['MCP_MAX_BODY_SIZE: ', 'expected a size like 65536, 512k or 1m (got "huge")']],
    },
    {
      name: 'port out of range',
      env: { ...BASE, MCP_LISTEN_PORT: '70000' },
      problems: [['MCP_LISTEN_PORT: ', '65535']],
    },
    {
      name: 'port not a number',
      env: { ...BASE, MCP_LISTEN_PORT: 'http' },
      problems: [['MCP_LISTEN_PORT: ', 'expected a port number from 0 to 65535']],
    },
    {
      name: 'MCP_JWT_DISCOVERY neither on nor off',
      env: { ...BASE, MCP_JWT_DISCOVERY: 'yes' },
      problems: [['MCP_JWT_DISCOVERY: ', `expected 'on' or 'off' (got "yes")`]],
    },
    {
      name: 'a bearer method other than header',
      env: { ...BASE, MCP_BEARER_METHODS_SUPPORTED: 'header,query' },
      problems: [['MCP_BEARER_METHODS_SUPPORTED: ', 'only "header" is supported']],
    },
    {
      name: 'resource path not absolute',
      env: { ...BASE, MCP_RESOURCE_PATH: 'mcp' },
      problems: [['MCP_RESOURCE_PATH: ', 'must start with /']],
    },
    {
      name: 'MCP_JWKS_URI not http(s)',
      env: { ...BASE, MCP_JWKS_URI: 'ftp://as.example.com/jwks' },
      problems: [['MCP_JWKS_URI: ', '']],
    },
    {
      name: 'MCP_METADATA_URI not a URL',
      env: { ...BASE, MCP_METADATA_URI: 'metadata' },
      problems: [['MCP_METADATA_URI: ', '']],
    },
    {
      name: 'MCP_WORKER_PROCESSES zero',
      env: { ...BASE, MCP_WORKER_PROCESSES: '0' },
      problems: [['MCP_WORKER_PROCESSES: ', '']],
    },
    {
      name: 'MCP_LOG_LEVEL unknown',
      env: { ...BASE, MCP_LOG_LEVEL: 'loud' },
      problems: [['MCP_LOG_LEVEL: ', '"info"']],
    },
  ]
  for (const row of rows) {
    test(row.name, async () => {
      assertProblems(await problemsOf(row.env), row.problems)
    })
  }

  test('every problem is reported at once', async () => {
    const problems = await problemsOf({
      MCP_CANONICAL_URI: 'http://mcp.example.com/mcp',
      MCP_AUTHORIZATION_SERVER: 'https://as.example.com',
      MCP_JWT_DISCOVERY: 'off',
      MCP_BACKEND: 'nope',
      MCP_TLS: 'on',
      MCP_REQUIRED_SCOPE: 'mcp:admin',
      MCP_SCOPES_SUPPORTED: 'mcp:read',
      MCP_BACKEND_TIMEOUT: 'later',
      MCP_MAX_BODY_SIZE: 'big',
      MCP_LISTEN_PORT: '-1',
    })
    assertProblems(problems, [
      ['MCP_CANONICAL_URI: ', 'http is allowed only for loopback hosts'],
      ['MCP_BACKEND: ', 'expected host:port'],
      ['MCP_SSL_CERT_FILE: ', 'is required when MCP_TLS=on'],
      ['MCP_SSL_CERT_KEY_FILE: ', 'is required when MCP_TLS=on'],
      ['MCP_REQUIRED_SCOPE: ', 'mcp:admin'],
      ['MCP_BACKEND_TIMEOUT: ', 'expected a duration'],
      ['MCP_MAX_BODY_SIZE: ', 'expected a size'],
      ['MCP_LISTEN_PORT: ', ''],
      ['MCP_JWT_DISCOVERY: ', 'needs a key source'],
    ])
  })

  test('the missing key source is reported along with another bad setting of the same issuer', async () => {
    const problems = await problemsOf({ ...BASE, MCP_JWKS_URI: undefined, MCP_JWT_DISCOVERY: 'off', MCP_CLOCK_SKEW: 'later' })
    assertProblems(problems, [
      ['MCP_CLOCK_SKEW: ', 'expected a duration'],
      ['MCP_JWT_DISCOVERY: ', 'needs a key source'],
    ])
  })

  test('an unknown flag is a ConfigError', async () => {
    const problems = await problemsOf(BASE, ['--no-such-flag'])
    assert.equal(problems.length, 1)
    assert.match(problems[0] as string, /--no-such-flag/)
  })

  test('problems never echo a JWKS file body', async () => {
    const path = join(dir, 'secret.json')
    await writeFile(path, '{"keys": "s3cr3t-material"}')
    const problems = await problemsOf({ ...BASE, MCP_JWKS_URI: undefined, MCP_JWT_KEY_FILE: path })
    assert.ok(problems.every((p) => !p.includes('s3cr3t')))
  })
})

describe('loadConfig: MCP_JWT_KEY_FILE contents', () => {
  const rows: { name: string; content: string | 'directory'; phrase: string }[] = [
    { name: 'not JSON', content: 'not json', phrase: 'is not a JWKS (expected JSON {"keys": [...]} with at least one key)' },
    { name: 'no keys array', content: '{"kty":"RSA"}', phrase: 'is not a JWKS' },
    { name: 'an empty key set', content: '{"keys":[]}', phrase: 'is not a JWKS' },
    { name: 'a key without kty', content: '{"keys":[{"n":"x"}]}', phrase: 'is not a JWKS' },
    {
      name: 'a private key',
      content: JSON.stringify({ keys: [{ kty: 'RSA', n: 'n', e: 'AQAB', d: 'private' }] }),
      phrase: 'holds private key material; give the gateway public keys only',
    },
    { name: 'a directory', content: 'directory', phrase: 'is not readable (EISDIR)' },
  ]
  for (const row of rows) {
    test(row.name, async () => {
      const path = join(dir, `key-file-${row.name.replace(/\W+/g, '-')}`)
      if (row.content === 'directory') await mkdir(path, { recursive: true })
      else await writeFile(path, row.content)
      const problems = await problemsOf({ ...BASE, MCP_JWKS_URI: undefined, MCP_JWT_KEY_FILE: path })
      assertProblems(problems, [[`MCP_JWT_KEY_FILE=${path} `, row.phrase]])
    })
  }

  test('a public JWKS file loads', async () => {
    const config = await loadConfig({ env: { ...BASE, MCP_JWKS_URI: undefined, MCP_JWT_KEY_FILE: jwksPath } })
    assert.equal(config.authorizationServers[0]?.jwks?.keys[0]?.kid, 'k1')
    assert.equal(config.authorizationServers[0]?.jwksUri, undefined)
  })
})

describe('loadConfig: defaults and forms', () => {
  const load = (env: Env, argv: string[] = []): Promise<Config> => loadConfig({ env, argv })

  test('MCP_LISTEN_PORT defaults to 80 with TLS off, on 0.0.0.0', async () => {
    const config = await load(BASE)
    assert.deepEqual(config.listen, { host: '0.0.0.0', port: 80 })
  })

  test('MCP_LISTEN_PORT defaults to 443 with TLS on', async () => {
    const config = await load({ ...BASE, MCP_TLS: 'on', MCP_SSL_CERT_FILE: certPath, MCP_SSL_CERT_KEY_FILE: keyPath })
    assert.equal(config.listen.port, 443)
    assert.equal(config.tls.enabled, true)
  })

  test('an explicit port wins over the TLS default', async () => {
    const config = await load({ ...BASE, MCP_TLS: 'on', MCP_SSL_CERT_FILE: certPath, MCP_SSL_CERT_KEY_FILE: keyPath, MCP_LISTEN_PORT: '8443' })
    assert.equal(config.listen.port, 8443)
  })

  const backends: { input: string; origin: string; basePath: string }[] = [
    { input: '127.0.0.1:3000', origin: 'http://127.0.0.1:3000', basePath: '' },
    { input: 'backend.internal:8080', origin: 'http://backend.internal:8080', basePath: '' },
    { input: 'http://127.0.0.1:3000', origin: 'http://127.0.0.1:3000', basePath: '' },
    { input: 'http://127.0.0.1:3000/', origin: 'http://127.0.0.1:3000', basePath: '' },
    { input: 'http://127.0.0.1:3000/api/mcp/', origin: 'http://127.0.0.1:3000', basePath: '/api/mcp' },
    { input: 'https://backend.internal', origin: 'https://backend.internal', basePath: '' },
  ]
  for (const row of backends) {
    test(`MCP_BACKEND=${row.input}`, async () => {
      const config = await load({ ...BASE, MCP_BACKEND: row.input })
      assert.equal(config.backend.origin, row.origin)
      assert.equal(config.backend.basePath, row.basePath)
    })
  }

  test('http canonical URIs on loopback hosts are accepted', async () => {
    for (const uri of ['http://127.0.0.1:8080/mcp', 'http://localhost:8080/mcp', 'http://[::1]:8080/mcp']) {
      const config = await load({ ...BASE, MCP_CANONICAL_URI: uri })
      assert.equal(config.resource.canonicalUri, uri)
    }
  })

  test('the canonical URI is kept exactly; metadata URL and paths derive from it', async () => {
    const config = await load(BASE)
    assert.equal(config.resource.canonicalUri, 'https://mcp.example.com/mcp')
    assert.equal(config.resource.path, '/mcp')
    assert.equal(config.resource.metadataUri, 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp')
    assert.deepEqual(config.resource.metadataPaths, [
      '/.well-known/oauth-protected-resource',
      '/.well-known/oauth-protected-resource/mcp',
    ])
    assert.deepEqual(config.resource.bearerMethodsSupported, ['header'])
  })

  test('MCP_METADATA_URI and MCP_RESOURCE_PATH override the derived values', async () => {
    const config = await load({ ...BASE, MCP_METADATA_URI: 'https://mcp.example.com/meta.json', MCP_RESOURCE_PATH: '/gateway' })
    assert.equal(config.resource.metadataUri, 'https://mcp.example.com/meta.json')
    assert.equal(config.resource.path, '/gateway')
    assert.ok(config.resource.metadataPaths.includes('/meta.json'))
  })

  test('the expected issuer is the authorization server exactly, unless MCP_ISSUER says otherwise', async () => {
    const plain = await load({ ...BASE, MCP_AUTHORIZATION_SERVER: 'https://as.example.com/' })
    assert.equal(plain.authorizationServers[0]?.issuer, 'https://as.example.com/')
    assert.equal(plain.authorizationServers[0]?.expectedIssuer, 'https://as.example.com/')
    const other = await load({ ...BASE, MCP_ISSUER: 'https://tokens.example.com' })
    assert.equal(other.authorizationServers[0]?.issuer, 'https://as.example.com')
    assert.equal(other.authorizationServers[0]?.expectedIssuer, 'https://tokens.example.com')
  })

  const durations: { value: string; ms: number }[] = [
    { value: '500ms', ms: 500 },
    { value: '45s', ms: 45_000 },
    { value: '2m', ms: 120_000 },
    { value: '1h', ms: 3_600_000 },
    { value: '1.5', ms: 1500 },
    { value: '0', ms: 0 },
  ]
  for (const row of durations) {
    test(`MCP_CLOCK_SKEW=${row.value} is ${row.ms} ms`, async () => {
      const config = await load({ ...BASE, MCP_CLOCK_SKEW: row.value })
      assert.equal(config.authorizationServers[0]?.clockSkew, row.ms)
    })
  }

  const sizes: { value: string; bytes: number }[] = [
    { value: '2048', bytes: 2048 },
    { value: '512k', bytes: 524_288 },
    { value: '1m', bytes: 1_048_576 },
    { value: '2MB', bytes: 2_097_152 },
  ]
  for (const row of sizes) {
    test(`MCP_MAX_BODY_SIZE=${row.value} is ${row.bytes} bytes`, async () => {
      const config = await load({ ...BASE, MCP_MAX_BODY_SIZE: row.value })
      assert.equal(config.limits.maxBodySize, row.bytes)
    })
  }

  test('defaults of the timing settings', async () => {
    const config = await load(BASE)
    const as = config.authorizationServers[0]
    assert.equal(as?.clockSkew, 30_000)
    assert.equal(as?.jwksCooldown, 30_000)
    assert.equal(config.backend.headersTimeout, 60_000)
    assert.equal(config.limits.maxBodySize, 1_048_576)
  })

  test('MCP_SERVER_NAME and MCP_WORKER_PROCESSES are accepted', async () => {
    const config = await load({ ...BASE, MCP_SERVER_NAME: 'mcp.example.com', MCP_WORKER_PROCESSES: '2' })
    assert.equal(config.workers, 2)
  })

  test("nginx-mcp-resource's container variables are accepted and reported as ignored, not as warnings", async () => {
    const config = await load({
      ...BASE,
      MCP_RESOLVER: '8.8.8.8',
      MCP_SERVER_NAME: 'mcp.example.com',
      MCP_CANONICAL_URI_JSON: '"https://mcp.example.com/mcp"',
      MCP_REQUIRED_SCOPE_RE: 'mcp:read',
    })
    assert.deepEqual(
      config.ignored.map((line) => line.split(' ')[0]),
      ['MCP_SERVER_NAME', 'MCP_RESOLVER', 'MCP_CANONICAL_URI_JSON', 'MCP_REQUIRED_SCOPE_RE'],
    )
    assert.ok(config.ignored.every((line) => line.includes(' is ignored: ')))
    assert.ok(!config.notices.some((n) => n.includes('is ignored')))
  })

  test('the result is frozen', async () => {
    const config = await load(BASE)
    assert.ok(Object.isFrozen(config))
    assert.ok(Object.isFrozen(config.resource))
    assert.ok(Object.isFrozen(config.authorizationServers[0]))
  })
})

describe('loadConfig: file, then environment, then flags', () => {
  let file: string
  const FILE = [
    'listen:',
    '  host: 127.0.0.1',
    '  port: 9000',
    'resource:',
    '  canonicalUri: https://mcp.example.com/mcp',
    'authorizationServers:',
    '  - issuer: https://as.example.com',
    '    jwksUri: https://as.example.com/jwks',
    '    clockSkew: 10',
    '    jwksCooldown: 2m',
    'backend:',
    '  url: http://127.0.0.1:3000',
    'scopes:',
    '  required: [mcp:read]',
    '  supported: [mcp:read, mcp:write]',
    'limits:',
    '  maxBodySize: 512k',
    '',
  ].join('\n')

  before(async () => {
    file = join(dir, 'gateway.yaml')
    await writeFile(file, FILE)
  })

  test('the file alone (MCP_CONFIG)', async () => {
    const config = await loadConfig({ env: { MCP_CONFIG: file } })
    assert.deepEqual(config.listen, { host: '127.0.0.1', port: 9000 })
    assert.equal(config.backend.origin, 'http://127.0.0.1:3000')
    assert.equal(config.authorizationServers[0]?.clockSkew, 10_000)
    assert.equal(config.authorizationServers[0]?.jwksCooldown, 120_000)
    assert.deepEqual(config.scopes.required, ['mcp:read'])
    assert.deepEqual(config.scopes.supported, ['mcp:read', 'mcp:write'])
    assert.equal(config.limits.maxBodySize, 524_288)
    assert.equal(config.file, file)
  })

  test('the file through --config', async () => {
    const config = await loadConfig({ env: {}, argv: ['--config', file] })
    assert.equal(config.listen.port, 9000)
  })

  test('--config wins over MCP_CONFIG', async () => {
    const config = await loadConfig({ env: { MCP_CONFIG: join(dir, 'absent.yaml') }, argv: ['--config', file] })
    assert.equal(config.file, file)
  })

  test('the environment wins over the file, key by key', async () => {
    const config = await loadConfig({
      env: { MCP_CONFIG: file, MCP_LISTEN_PORT: '9100', MCP_BACKEND: '127.0.0.1:4000', MCP_CLOCK_SKEW: '5s' },
    })
    assert.deepEqual(config.listen, { host: '127.0.0.1', port: 9100 })
    assert.equal(config.backend.origin, 'http://127.0.0.1:4000')
    assert.equal(config.authorizationServers[0]?.clockSkew, 5000)
    // Untouched keys of the same issuer stay as the file set them.
    assert.equal(config.authorizationServers[0]?.jwksCooldown, 120_000)
    assert.equal(config.authorizationServers[0]?.jwksUri, 'https://as.example.com/jwks')
  })

  test('flags win over the environment', async () => {
    const config = await loadConfig({
      env: { MCP_CONFIG: file, MCP_LISTEN_PORT: '9100', MCP_BACKEND: '127.0.0.1:4000' },
      argv: ['--port', '9200', '--backend', '127.0.0.1:5000', '--host', '127.0.0.2'],
    })
    assert.deepEqual(config.listen, { host: '127.0.0.2', port: 9200 })
    assert.equal(config.backend.origin, 'http://127.0.0.1:5000')
  })

  test('a bad flag value names the flag', async () => {
    const problems = await problemsOf({ MCP_CONFIG: file }, ['--backend', 'nowhere'])
    assertProblems(problems, [['--backend: ', 'expected host:port']])
  })

  test('problems in the file name the file and the key', async () => {
    const bad = join(dir, 'bad.yaml')
    await writeFile(
      bad,
      [
        'resource:',
        '  canonicalUri: http://mcp.example.com/mcp',
        'authorizationServers:',
        '  - issuer: https://as.example.com',
        '    jwksUri: https://as.example.com/jwks',
        '    clockSkew: soon',
        'backend:',
        '  url: nope',
        '',
      ].join('\n'),
    )
    assertProblems(await problemsOf({ MCP_CONFIG: bad }), [
      [`${bad}: resource.canonicalUri: `, 'http is allowed only for loopback hosts'],
      [`${bad}: authorizationServers.0.clockSkew: `, 'expected a duration'],
      [`${bad}: backend.url: `, 'expected host:port'],
    ])
    // A variable that fixes a file value also takes the blame for it.
    assertProblems(await problemsOf({ MCP_CONFIG: bad, MCP_CANONICAL_URI: 'https://x.example.com/mcp', MCP_BACKEND: 'no' }), [
      [`${bad}: authorizationServers.0.clockSkew: `, 'expected a duration'],
      ['MCP_BACKEND: ', 'expected host:port'],
    ])
  })

  test('a misspelt key in the file is reported, not ignored', async () => {
    const path = join(dir, 'typo.yaml')
    await writeFile(path, 'listen:\n  prot: 8080\nbackendd: {}\n')
    assertProblems(await problemsOf({ ...BASE, MCP_CONFIG: path }), [
      [`${path}: listen`, 'prot'],
      [`${path}: `, 'backendd'],
    ])
  })

  test('a missing file', async () => {
    const path = join(dir, 'absent.yaml')
    const problems = await problemsOf({ ...BASE, MCP_CONFIG: path })
    assertProblems(problems, [[`${path}: `, 'file not found']])
  })

  test('a file that is not YAML', async () => {
    const path = join(dir, 'broken.yaml')
    await writeFile(path, 'a: [\n')
    assertProblems(await problemsOf({ ...BASE, MCP_CONFIG: path }), [[`${path}: `, 'not valid YAML']])
  })

  test('a file that is not a mapping', async () => {
    const path = join(dir, 'list.yaml')
    await writeFile(path, '- a\n- b\n')
    assertProblems(await problemsOf({ ...BASE, MCP_CONFIG: path }), [[`${path}: `, 'expected a mapping of settings']])
  })

  test('an empty file is no settings', async () => {
    const path = join(dir, 'empty.yaml')
    await writeFile(path, '')
    const config = await loadConfig({ env: { ...BASE, MCP_CONFIG: path } })
    assert.equal(config.resource.canonicalUri, BASE.MCP_CANONICAL_URI)
  })
})

describe('loadConfig: unknown MCP_* variables (issue 12 item 3)', () => {
  test('a misspelt variable is an error naming it and the nearest known one, not a gateway that requires no scope', async () => {
    const problems = await problemsOf({ ...BASE, MCP_REQUIRED_SCOPES: 'mcp:tools' })
    assertProblems(problems, [['MCP_REQUIRED_SCOPES ', 'is not a variable of this gateway; did you mean MCP_REQUIRED_SCOPE?']])
  })

  test('every unknown variable is reported, beside the other problems; one far from every name gets no guess', async () => {
    const problems = await problemsOf({ ...BASE, MCP_BACKEND: 'nope', MCP_JWKS_URL: 'https://as.example.com/jwks', MCP_FROBNICATE: 'yes' })
    assertProblems(problems, [
      ['MCP_BACKEND: ', 'expected host:port'],
      ['MCP_JWKS_URL ', 'did you mean MCP_JWKS_URI?'],
      ['MCP_FROBNICATE ', 'is not a variable of this gateway; docs/configuration.md lists the variables'],
    ])
  })

  test('names read outside the table (MCP_CONFIG, MCP_PROBE_TOKEN), empty variables and other prefixes are not unknown', async () => {
    const config = await loadConfig({ env: { ...BASE, MCP_PROBE_TOKEN: 'x', MCP_TYPO_BUT_EMPTY: '', MCPX_OTHER: 'y', NODE_ENV: 'production' } })
    assert.equal(config.backend.origin, 'http://127.0.0.1:3000')
  })

  test('every variable the gateway reads is known: each one alone raises no unknown-variable problem', async () => {
    const env = Object.fromEntries(knownEnvNames().map((name) => [name, 'x']))
    const problems = await problemsOf(env)
    assert.deepEqual(problems.filter((p) => p.includes('is not a variable of this gateway')), [])
  })
})

describe('loadConfig: replicas settings', () => {
  test('MCP_ADMIN_TOKEN_FILE: read as a secret; a short one is refused', async () => {
    const good = join(dir, 'admin-token-good')
    await writeFile(good, 'a-long-enough-admin-secret-value\n', { mode: 0o600 })
    const config = await loadConfig({ env: { ...BASE, MCP_ADMIN_TOKEN_FILE: good, MCP_ADMIN_PORT: '9100' } })
    assert.equal(config.admin.token?.reveal(), 'a-long-enough-admin-secret-value')
    assert.ok(!JSON.stringify(config).includes('a-long-enough'), 'the secret never prints')
    const short = join(dir, 'admin-token-short')
    await writeFile(short, 'short\n', { mode: 0o600 })
    assertProblems(await problemsOf({ ...BASE, MCP_ADMIN_TOKEN_FILE: short }), [['MCP_ADMIN_TOKEN_FILE=', 'fewer than 16 bytes']])
  })

  test('lockout, trusted proxies and stream lifetime from the environment', async () => {
    const config = await loadConfig({
      env: { ...BASE, MCP_AUTH_FAILURE_LIMIT: '5/5m', MCP_AUTH_FAILURE_BLOCK: '15m', MCP_TRUSTED_PROXIES: '10.0.0.0/8, ::1', MCP_MAX_STREAM_LIFETIME: '1h' },
    })
    assert.deepEqual(config.authFailures, { limit: { failures: 5, periodMs: 300_000 }, block: 900_000 })
    assert.deepEqual(config.trustedProxies.map((p) => `${p.address}/${p.prefix}`), ['10.0.0.0/8', '::1/128'])
    assert.equal(config.limits.maxStreamLifetime, 3_600_000)
    const off = await loadConfig({ env: BASE })
    assert.equal(off.authFailures.limit, undefined)
    assert.equal(off.admin.token, undefined)
    assertProblems(await problemsOf({ ...BASE, MCP_AUTH_FAILURE_LIMIT: 'five', MCP_TRUSTED_PROXIES: 'proxy.local' }), [
      ['MCP_AUTH_FAILURE_LIMIT: ', '5/5m'],
      ['MCP_TRUSTED_PROXIES: ', 'CIDR'],
    ])
  })
})
