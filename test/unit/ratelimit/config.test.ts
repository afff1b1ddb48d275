import assert from 'node:assert/strict'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { after, describe, test } from 'node:test'
import { loadConfig } from '../../../src/config/load.js'
import { ConfigError } from '../../../src/errors.js'
import { formatRate, parseRate } from '../../../src/ratelimit/rate.js'

const BASE = {
  MCP_CANONICAL_URI: 'http://127.0.0.1:8080/mcp',
  MCP_AUTHORIZATION_SERVER: 'http://127.0.0.1:9000',
  MCP_JWKS_URI: 'http://127.0.0.1:9000/jwks',
  MCP_BACKEND: '127.0.0.1:3000',
}

async function problems(env: Record<string, string>): Promise<string[]> {
  try {
    await loadConfig({ env: { ...BASE, ...env } })
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems]
    throw error
  }
  return []
}

const dir = mkdtempSync(join(tmpdir(), 'mcp-gw-ratelimit-config-'))
after(() => rmSync(dir, { recursive: true, force: true }))

describe('rate syntax', () => {
  test('nginx forms and a counted period', () => {
    assert.deepEqual(parseRate('100r/m'), { requests: 100, periodMs: 60_000 })
    assert.deepEqual(parseRate('10r/s'), { requests: 10, periodMs: 1000 })
    assert.deepEqual(parseRate('1000r/h'), { requests: 1000, periodMs: 3_600_000 })
    assert.deepEqual(parseRate('50r/30s'), { requests: 50, periodMs: 30_000 })
    assert.equal(formatRate({ requests: 50, periodMs: 30_000 }), '50r/30s')
    assert.equal(formatRate({ requests: 100, periodMs: 60_000 }), '100r/m')
  })

  test('refused with the expected form', () => {
    for (const bad of ['100', '100/m', '0r/s', 'r/m', '10r/ms', '10r/0s', '5r/2d', '-1r/s']) {
      const result = parseRate(bad)
      assert.equal(typeof result, 'string', bad)
    }
    assert.match(parseRate('100/m') as string, /expected a rate like 100r\/m/)
  })
})

describe('MCP_RATELIMIT_* variables', () => {
  test('off by default, and every anchor default when on', async () => {
    assert.equal((await loadConfig({ env: BASE })).rateLimit.enabled, false)
    const config = await loadConfig({ env: { ...BASE, MCP_RATELIMIT_ENABLED: 'on', MCP_RATELIMIT_RATE: '100r/m' } })
    const rl = config.rateLimit
    assert.deepEqual(
      [rl.enabled, rl.limit, rl.algorithm, rl.onError, rl.redis, rl.missingSubject, rl.tools.size],
      [true, { requests: 100, periodMs: 60_000, burst: 0 }, 'fixed_window', 'deny', undefined, 'reject', 0],
    )
  })

  test('each bad value names its variable', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ MCP_RATELIMIT_ENABLED: 'yes' }, /^MCP_RATELIMIT_ENABLED: .*'on' or 'off'/],
      [{ MCP_RATELIMIT_ENABLED: 'on' }, /^MCP_RATELIMIT_RATE: is required when MCP_RATELIMIT_ENABLED=on/],
      [{ MCP_RATELIMIT_ENABLED: 'on', MCP_RATELIMIT_RATE: '100/m' }, /^MCP_RATELIMIT_RATE: expected a rate like 100r\/m/],
      [{ MCP_RATELIMIT_ENABLED: 'on', MCP_RATELIMIT_RATE: '1r/s', MCP_RATELIMIT_BURST: '-2' }, /^MCP_RATELIMIT_BURST: /],
      [{ MCP_RATELIMIT_ENABLED: 'on', MCP_RATELIMIT_RATE: '1r/s', MCP_RATELIMIT_ALGO: 'sliding_window' }, /^MCP_RATELIMIT_ALGO: expected one of fixed_window, token_bucket, gcra/],
      [{ MCP_RATELIMIT_ENABLED: 'on', MCP_RATELIMIT_RATE: '1r/s', MCP_RATELIMIT_ON_ERROR: 'maybe' }, /^MCP_RATELIMIT_ON_ERROR: expected 'deny' or 'allow'/],
      [{ MCP_RATELIMIT_ENABLED: 'on', MCP_RATELIMIT_RATE: '1r/s', MCP_RATELIMIT_REDIS: 'redis-host' }, /^MCP_RATELIMIT_REDIS: expected host:port/],
      [{ MCP_RATELIMIT_ENABLED: 'on', MCP_RATELIMIT_RATE: '1r/s', MCP_RATELIMIT_REDIS: 'http://h:1' }, /^MCP_RATELIMIT_REDIS: expected host:port or a redis:\/\/ URL/],
      [{ MCP_RATELIMIT_ENABLED: 'on', MCP_RATELIMIT_RATE: '1r/s', MCP_RATELIMIT_PREFIX: 'a{b}' }, /^MCP_RATELIMIT_PREFIX: must not contain braces/],
      [{ MCP_RATELIMIT_ENABLED: 'on', MCP_RATELIMIT_RATE: '1r/s', MCP_RATELIMIT_REDIS_PASSWORD_FILE: '/x' }, /^MCP_RATELIMIT_REDIS_PASSWORD_FILE: is set but MCP_RATELIMIT_REDIS is not/],
    ]
    for (const [env, expected] of cases) {
      const found = await problems(env)
      assert.ok(found.some((p) => expected.test(p)), `${JSON.stringify(env)} -> ${JSON.stringify(found)}`)
    }
  })

  test('a password in the Redis URL is refused without echoing it', async () => {
    const found = await problems({ MCP_RATELIMIT_ENABLED: 'on', MCP_RATELIMIT_RATE: '1r/s', MCP_RATELIMIT_REDIS: 'redis://u:s3cr3t-pw@h:6379' })
    assert.equal(found.length, 1)
    assert.match(found[0]!, /MCP_RATELIMIT_REDIS: a password in the URL is refused.*MCP_RATELIMIT_REDIS_PASSWORD_FILE/)
    assert.doesNotMatch(found[0]!, /s3cr3t-pw/)
  })

  test('Redis addresses: host:port, redis:// with user and db, rediss://, IPv6', async () => {
    const address = async (value: string) =>
      (await loadConfig({ env: { ...BASE, MCP_RATELIMIT_ENABLED: 'on', MCP_RATELIMIT_RATE: '1r/s', MCP_RATELIMIT_REDIS: value } }))
        .rateLimit.redis
    assert.deepEqual(await address('127.0.0.1:6380'), { host: '127.0.0.1', port: 6380, db: 0, tls: false, username: undefined })
    assert.deepEqual(await address('redis://gw@cache:6379/2'), { host: 'cache', port: 6379, db: 2, tls: false, username: 'gw' })
    assert.deepEqual(await address('rediss://cache'), { host: 'cache', port: 6379, db: 0, tls: true, username: undefined })
    assert.deepEqual(await address('[::1]:6379'), { host: '::1', port: 6379, db: 0, tls: false, username: undefined })
  })

  test('the password comes from its file, never shows when the config is printed', async () => {
    const file = join(dir, 'redis-password')
    writeFileSync(file, 'pa55-w0rd-xyz\n', { mode: 0o600 })
    chmodSync(file, 0o600)
    const config = await loadConfig({
      env: { ...BASE, MCP_RATELIMIT_ENABLED: 'on', MCP_RATELIMIT_RATE: '1r/s', MCP_RATELIMIT_REDIS: '127.0.0.1:6379', MCP_RATELIMIT_REDIS_PASSWORD_FILE: file },
    })
    assert.equal(config.rateLimit.redisPassword?.reveal(), 'pa55-w0rd-xyz')
    assert.doesNotMatch(JSON.stringify(config), /pa55/)
    assert.doesNotMatch(inspect(config, { depth: 10 }), /pa55/)
    assert.doesNotMatch(`${config.rateLimit.redisPassword}`, /pa55/)
    assert.ok(!config.notices.some((n) => n.includes('redis-password')), 'a 0600 file draws no notice')

    chmodSync(file, 0o644)
    const loose = await loadConfig({
      env: { ...BASE, MCP_RATELIMIT_ENABLED: 'on', MCP_RATELIMIT_RATE: '1r/s', MCP_RATELIMIT_REDIS: '127.0.0.1:6379', MCP_RATELIMIT_REDIS_PASSWORD_FILE: file },
    })
    assert.ok(loose.notices.some((n) => /MCP_RATELIMIT_REDIS_PASSWORD_FILE=.*readable by group and others \(mode 644\)/.test(n)))
  })

  test('an unreadable or empty password file is a start-up problem naming the variable, not the contents', async () => {
    const missing = await problems({
      MCP_RATELIMIT_ENABLED: 'on', MCP_RATELIMIT_RATE: '1r/s', MCP_RATELIMIT_REDIS: '127.0.0.1:6379',
      MCP_RATELIMIT_REDIS_PASSWORD_FILE: join(dir, 'nope'),
    })
    assert.deepEqual(missing, [`MCP_RATELIMIT_REDIS_PASSWORD_FILE=${join(dir, 'nope')} is not readable (ENOENT)`])
    const empty = join(dir, 'empty')
    writeFileSync(empty, '\n', { mode: 0o600 })
    const found = await problems({
      MCP_RATELIMIT_ENABLED: 'on', MCP_RATELIMIT_RATE: '1r/s', MCP_RATELIMIT_REDIS: '127.0.0.1:6379',
      MCP_RATELIMIT_REDIS_PASSWORD_FILE: empty,
    })
    assert.deepEqual(found, [`MCP_RATELIMIT_REDIS_PASSWORD_FILE=${empty} is empty`])
  })

  test('several workers without Redis draw a notice: each counts on its own', async () => {
    const config = await loadConfig({ env: { ...BASE, MCP_WORKER_PROCESSES: '4', MCP_RATELIMIT_ENABLED: 'on', MCP_RATELIMIT_RATE: '100r/m' } })
    assert.ok(config.notices.some((n) => /counted per worker process \(4 workers.*up to 4 times 100r\/m/.test(n)), config.notices.join('\n'))
  })

  test('per-tool limits from the file, short and long forms; tools alone are enough', async () => {
    const file = join(dir, 'gateway.yaml')
    writeFileSync(
      file,
      [
        'rateLimit:',
        '  enabled: true',
        '  algorithm: gcra',
        '  tools:',
        '    delete_repo: 5r/m',
        '    search: { rate: 10r/s, burst: 4 }',
      ].join('\n'),
    )
    const config = await loadConfig({ env: BASE, argv: ['--config', file] })
    assert.equal(config.rateLimit.limit, undefined)
    assert.deepEqual([...config.rateLimit.tools], [
      ['delete_repo', { requests: 5, periodMs: 60_000, burst: 0 }],
      ['search', { requests: 10, periodMs: 1000, burst: 4 }],
    ])
    writeFileSync(file, 'rateLimit:\n  enabled: true\n  tools:\n    delete_repo: 5 per minute\n')
    try {
      await loadConfig({ env: BASE, argv: ['--config', file] })
      assert.fail('expected a ConfigError')
    } catch (error) {
      assert.ok(error instanceof ConfigError)
      assert.ok(error.problems.some((p) => p.includes('rateLimit.tools.delete_repo')), error.problems.join('\n'))
    }
  })
})

describe('rateLimit in the file', () => {
  test('a misspelt key is reported, not ignored', async () => {
    const file = join(dir, 'misspelt.yaml')
    writeFileSync(file, 'rateLimit:\n  enabled: true\n  rate: 10r/s\n  burts: 5\n')
    try {
      await loadConfig({ env: BASE, argv: ['--config', file] })
      assert.fail('expected a ConfigError')
    } catch (error) {
      assert.ok(error instanceof ConfigError)
      assert.ok(error.problems.some((p) => p.includes('rateLimit') && p.includes('burts')), error.problems.join('\n'))
    }
  })
})
