import { test } from 'node:test'
import assert from 'node:assert/strict'
import { checkReportJson, formatCheckReport } from '../../../src/check/format.js'
import { checkIntrospectionCacheTtl } from '../../../src/check/introspection-checks.js'
import { exitCodeFor, fail, ok, summarize, warn, worst } from '../../../src/check/result.js'

const results = [
  ok('config', 'configuration valid'),
  warn('transport', 'plain HTTP', 'terminate TLS in front'),
  fail('as.issuer', 'issuer differs', 'set it exactly', 'https://as.example.com/'),
]

test('summary, worst status and exit codes (strict makes warnings fail)', () => {
  assert.deepEqual(summarize(results), { ok: 1, warn: 1, fail: 1 })
  assert.equal(worst('ok', 'warn'), 'warn')
  assert.equal(worst('warn', 'fail', 'ok'), 'fail')
  assert.equal(exitCodeFor(results, false), 1)
  assert.equal(exitCodeFor(results.slice(0, 2), false), 0)
  assert.equal(exitCodeFor(results.slice(0, 2), true), 1)
  assert.equal(exitCodeFor(results.slice(0, 1), true), 0)
})

test('the text report: one line per check, the fix under each finding, a verdict', () => {
  const text = formatCheckReport(results, false)
  assert.deepEqual(text.split('\n'), [
    'ok    config      configuration valid',
    'WARN  transport   plain HTTP',
    '                  fix: terminate TLS in front',
    'FAIL  as.issuer   [https://as.example.com/] issuer differs',
    '                  fix: set it exactly',
    '',
    'check failed: 1 ok, 1 warning, 1 failure',
  ])
  assert.match(formatCheckReport(results.slice(0, 2), true), /check failed: 1 ok, 1 warning, 0 failures \(--strict: warnings fail\)$/)
})

test('the JSON report', () => {
  const json = JSON.parse(checkReportJson(results.slice(0, 2), false)) as { passed: boolean; summary: unknown; results: unknown[] }
  assert.equal(json.passed, true)
  assert.deepEqual(json.summary, { ok: 1, warn: 1, fail: 0 })
  assert.equal(json.results.length, 2)
})

test('introspection cache TTL: tens of seconds ok, minutes warn, longer fails', () => {
  assert.equal(checkIntrospectionCacheTtl(60_000).status, 'ok')
  assert.equal(checkIntrospectionCacheTtl(0).status, 'ok')
  assert.equal(checkIntrospectionCacheTtl(120_000).status, 'warn')
  const long = checkIntrospectionCacheTtl(3_600_000)
  assert.equal(long.status, 'fail')
  assert.match(long.message, /cached up to 3600s: a revoked token keeps working that long/)
  assert.match(long.fix ?? '', /MCP_INTROSPECT_CACHE_MAX_TTL/)
})
