import { test, describe, after } from 'node:test'
import assert from 'node:assert/strict'
import { events, type DecisionEvent } from '../../../src/observability/events.js'
import { configuredTools, createMetrics, createToolLabeler } from '../../../src/observability/metrics.js'

function decision(overrides: Partial<DecisionEvent> = {}): DecisionEvent {
  return {
    requestId: 'r',
    time: Date.now(),
    httpMethod: 'POST',
    path: '/mcp',
    status: 200,
    durationMs: 20,
    upstreamMs: 15,
    decision: 'allow',
    reason: undefined,
    mcpMethod: 'tools/call',
    target: 'echo',
    protocolVersion: '2025-06-18',
    subject: 'u',
    clientId: 'c',
    issuer: 'https://as.example',
    ...overrides,
  }
}

const unauthenticated = { subject: undefined, clientId: undefined, issuer: undefined, mcpMethod: undefined, target: undefined, upstreamMs: undefined }

/** `name{a="b"} value` lines of the exposition, as a map. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const space = line.lastIndexOf(' ')
    out.set(line.slice(0, space), Number(line.slice(space + 1)))
  }
  return out
}

describe('createMetrics', () => {
  const metrics = createMetrics({
    calls: { resourcePath: '/mcp', excluded: ['/healthz'] },
    knownTools: ['delete_repo'],
    toolLabels: 2,
    defaultMetrics: false,
  })
  after(() => metrics.close())

  test('counts the documented metrics, durations, streams and introspection from events only', async () => {
    events.decision.publish(decision())
    events.decision.publish(decision({ target: 'delete_repo', decision: 'deny', reason: 'insufficient_scope', status: 403, upstreamMs: undefined }))
    events.decision.publish(decision({ ...unauthenticated, status: 401, decision: 'deny', reason: 'no_credentials' }))
    events.decision.publish(decision({ ...unauthenticated, status: 401, decision: 'deny', reason: 'expired' }))
    events.decision.publish(decision({ ...unauthenticated, status: 401, decision: 'deny', reason: 'expired' }))
    events.decision.publish(decision({ status: 429, decision: 'deny', reason: 'rate_limited', upstreamMs: undefined }))
    events.decision.publish(decision({ ...unauthenticated, status: 503, decision: 'error', reason: 'introspection_capped', upstreamMs: undefined }))
    events.decision.publish(decision({ path: '/healthz', httpMethod: 'GET', ...unauthenticated }))
    events.jwksFetch.publish({ issuer: 'https://as.example', url: 'https://as.example/jwks', ok: true })
    events.jwksFetch.publish({ issuer: 'https://as.example', url: 'https://as.example/jwks', ok: false })
    events.introspection.publish({ issuer: 'https://as.example', cached: false, outcome: 'active', durationMs: 4 })
    events.introspection.publish({ issuer: 'https://as.example', cached: true, outcome: 'active' })
    events.introspection.publish({ issuer: 'https://as.example', cached: true, outcome: 'active' })
    events.stream.publish({ open: true })
    events.stream.publish({ open: true })
    events.stream.publish({ open: false })
    events.reload.publish({ ok: true })
    events.reload.publish({ ok: false, problems: ['x'] })
    const rateLimit = { policy: 'default', algorithm: 'gcra', store: 'redis', issuer: 'https://as.example', retryAfter: undefined } as const
    events.rateLimit.publish({ ...rateLimit, outcome: 'limited', retryAfter: 3 })
    events.rateLimit.publish({ ...rateLimit, outcome: 'store_failed_open' })
    events.rateLimit.publish({ ...rateLimit, outcome: 'store_failed_closed' })

    const m = samples(await metrics.render())
    assert.equal(m.get('mcp_auth_success_total'), 3)
    assert.equal(m.get('mcp_auth_failure_total{reason="no_credentials"}'), 1)
    assert.equal(m.get('mcp_auth_failure_total{reason="expired"}'), 2)
    assert.equal(m.get('mcp_auth_failure_total{reason="introspection_capped"}'), 1)
    assert.equal(m.get('mcp_rate_limit_hit_total'), 1)
    assert.equal(m.get('mcp_tool_invocation_total{tool="echo",decision="allow"}'), 1)
    assert.equal(m.get('mcp_tool_invocation_total{tool="echo",decision="deny"}'), 1)
    assert.equal(m.get('mcp_tool_invocation_total{tool="delete_repo",decision="deny"}'), 1)
    assert.equal(m.get('mcp_jwks_refresh_total{issuer="https://as.example",result="ok"}'), 1)
    assert.equal(m.get('mcp_jwks_refresh_total{issuer="https://as.example",result="error"}'), 1)
    assert.equal(m.get('mcp_introspection_total{issuer="https://as.example",result="active"}'), 1)
    assert.equal(m.get('mcp_introspection_cache_hits_total{issuer="https://as.example"}'), 2)
    assert.equal(m.get('mcp_introspection_duration_seconds_count'), 1)
    assert.equal(m.get('mcp_open_streams'), 1)
    assert.equal(m.get('mcp_config_reload_total{result="applied"}'), 1)
    assert.equal(m.get('mcp_config_reload_total{result="refused"}'), 1)
    assert.equal(m.get('mcp_rate_limit_store_failure_total{outcome="store_failed_open"}'), 1)
    assert.equal(m.get('mcp_rate_limit_store_failure_total{outcome="store_failed_closed"}'), 1)
    // 429s are counted from the decision (one above), not again from the limiter's event.
    // /healthz is not an MCP call: 6 calls counted.
    assert.equal(m.get('mcp_request_duration_seconds_count{decision="allow"}'), 1)
    assert.equal(m.get('mcp_request_duration_seconds_count{decision="deny"}'), 5)
    assert.equal(m.get('mcp_requests_total{decision="deny",status="401"}'), 3)
    assert.equal(m.get('mcp_upstream_duration_seconds_count'), 1)
    assert.equal(m.get('mcp_request_duration_seconds_bucket{le="0.025",decision="allow"}'), 1)
    assert.equal(m.get('mcp_request_duration_seconds_bucket{le="0.01",decision="allow"}'), 0)
  })

  test('tool names beyond the cap become "other"; close stops counting', async () => {
    for (const tool of ['t1', 't2', 't3', 't4']) events.decision.publish(decision({ target: tool }))
    events.decision.publish(decision({ target: 'denied-name', decision: 'deny', reason: 'insufficient_scope', status: 403 }))
    const m = samples(await metrics.render())
    // echo already took one of the two slots.
    assert.equal(m.get('mcp_tool_invocation_total{tool="t1",decision="allow"}'), 1)
    assert.equal(m.has('mcp_tool_invocation_total{tool="t2",decision="allow"}'), false)
    assert.equal(m.get('mcp_tool_invocation_total{tool="other",decision="allow"}'), 3)
    assert.equal(m.get('mcp_tool_invocation_total{tool="other",decision="deny"}'), 1)

    metrics.update({ calls: { resourcePath: '/other', excluded: [] }, knownTools: [] })
    events.decision.publish(decision({ path: '/mcp' }))
    const afterUpdate = samples(await metrics.render())
    assert.equal(afterUpdate.get('mcp_auth_success_total'), m.get('mcp_auth_success_total'))
  })
})

describe('createToolLabeler', () => {
  test('configured names always, allowed names up to the limit, long names never', () => {
    const labeler = createToolLabeler(['known'], 1)
    assert.equal(labeler.label('known', false), 'known')
    assert.equal(labeler.label('x'.repeat(129), true), 'other')
    assert.equal(labeler.label('denied', false), 'other')
    assert.equal(labeler.label('first', true), 'first')
    assert.equal(labeler.label('second', true), 'other')
    assert.equal(labeler.label('first', false), 'first')
    labeler.setKnown(['second'])
    assert.equal(labeler.label('second', true), 'second')
    assert.equal(labeler.label('known', true), 'other')
  })

  test('configuredTools drops the * fallback', () => {
    assert.deepEqual(configuredTools({ tools: { echo: ['a'], '*': ['b'], add: [] } }), ['echo', 'add'])
  })
})

describe('mcp_upstream_outcome_total', () => {
  const metrics = createMetrics({ calls: { resourcePath: '/mcp', excluded: [] }, defaultMetrics: false })
  after(() => metrics.close())

  test('counts how the backend ended forwarded requests, by reason, and nothing else', async () => {
    events.decision.publish(decision())
    events.decision.publish(decision({ decision: 'error', reason: 'upstream_reset' }))
    events.decision.publish(decision({ decision: 'error', reason: 'upstream_reset' }))
    events.decision.publish(decision({ status: 403, decision: 'deny', reason: 'upstream_insufficient_scope' }))
    events.decision.publish(decision({ status: 502, decision: 'error', reason: 'upstream_unreachable', upstreamMs: undefined }))
    events.decision.publish(decision({ status: 403, decision: 'deny', reason: 'insufficient_scope', upstreamMs: undefined }))
    const m = samples(await metrics.render())
    assert.equal(m.get('mcp_upstream_outcome_total{reason="upstream_reset"}'), 2)
    assert.equal(m.get('mcp_upstream_outcome_total{reason="upstream_insufficient_scope"}'), 1)
    assert.equal(m.get('mcp_upstream_outcome_total{reason="upstream_unreachable"}'), 1)
    assert.equal(m.get('mcp_upstream_outcome_total{reason="insufficient_scope"}'), undefined)
    assert.equal(m.get('mcp_requests_total{decision="error",status="200"}'), 2)
  })
})
