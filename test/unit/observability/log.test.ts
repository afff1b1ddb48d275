import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { events, type DecisionEvent } from '../../../src/observability/events.js'
import { pino } from 'pino'
import { accessLine, accessLineText, attachLogger, createLogger, logNotices } from '../../../src/observability/log.js'

function memory(): { stream: Writable; lines(): Array<Record<string, unknown>> } {
  const chunks: string[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString('utf8'))
      callback()
    },
  })
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  }
}

function decision(overrides: Partial<DecisionEvent> = {}): DecisionEvent {
  return {
    requestId: 'req-1',
    time: Date.UTC(2026, 0, 2, 3, 4, 5),
    httpMethod: 'POST',
    path: '/mcp',
    status: 200,
    durationMs: 12.3456,
    upstreamMs: 10.111,
    decision: 'allow',
    reason: undefined,
    mcpMethod: 'tools/call',
    target: 'echo',
    protocolVersion: '2025-06-18',
    subject: 'user-1',
    clientId: 'client-1',
    issuer: 'https://as.example',
    ...overrides,
  }
}

describe('accessLine', () => {
  test('names the target after its kind and rounds durations', () => {
    const line = accessLine(decision())
    assert.equal(line.tool, 'echo')
    assert.equal(line.method, 'POST')
    assert.equal(line.path, '/mcp')
    assert.equal(line.status, 200)
    assert.equal(line.durationMs, 12.35)
    assert.equal(line.upstreamMs, 10.11)
    assert.equal(line.sub, 'user-1')
    assert.equal(line.client_id, 'client-1')
    assert.equal(line.decision, 'allow')
    assert.equal(accessLine(decision({ mcpMethod: 'prompts/get', target: 'greet' })).prompt, 'greet')
    assert.equal(accessLine(decision({ mcpMethod: 'resources/read', target: 'file:///a' })).resource, 'file:///a')
    const list = accessLine(decision({ mcpMethod: 'tools/list', target: undefined }))
    assert.equal('tool' in list, false)
  })
})

/** Events whose every field takes an unusual turn: absent, escaped, non-ASCII, not finite. */
const TRICKY: Array<Partial<DecisionEvent>> = [
  {},
  { status: 401, decision: 'deny', reason: 'expired', subject: undefined, clientId: undefined, issuer: undefined, mcpMethod: undefined, target: undefined, protocolVersion: undefined, upstreamMs: undefined },
  { status: 502, decision: 'error', reason: 'upstream_unreachable', durationMs: 0.004, upstreamMs: 1234.5678 },
  { mcpMethod: 'resources/read', target: 'file:///a "quoted"\\path\nnext', subject: 'ünïcødé 😀', clientId: 'tab\there' },
  { mcpMethod: 'prompts/get', target: '\u2028\u0000', path: '/mcp/sub', httpMethod: 'GET', durationMs: Number.NaN },
  { mcpMethod: 'tools/list', target: 'ignored for a list', protocolVersion: '2026-07-28', time: Date.UTC(2026, 5, 30, 23, 59, 59, 999) },
]

describe('accessLineText', () => {
  test('the bytes of JSON.stringify of level, time, bindings, accessLine and msg', () => {
    for (const overrides of [...TRICKY, { subject: 'lone \ud800 surrogate' }]) {
      const e = decision(overrides)
      const expected = `${JSON.stringify({ level: 'info', time: new Date(e.time).toISOString(), worker: 2, ...accessLine(e), msg: 'request' })}\n`
      assert.equal(accessLineText(e, 'info', ',"worker":2'), expected)
      assert.equal(accessLineText(e, 'error', '').startsWith('{"level":"error","time":"'), true)
    }
  })

  test('the same line pino writes for the same object, but for the moment it is stamped', () => {
    for (const overrides of TRICKY) {
      const e = decision(overrides)
      const out = memory()
      createLogger('info', out.stream, { worker: 2 }).info(accessLine(e), 'request')
      const [viaPino] = out.lines()
      const ours = JSON.parse(accessLineText(e, 'info', ',"worker":2')) as Record<string, unknown>
      assert.deepEqual(Object.keys(ours), Object.keys(viaPino ?? {}))
      assert.deepEqual({ ...ours, time: 'x' }, { ...viaPino, time: 'x' })
    }
  })
})

describe('attachLogger', () => {
  test('a logger not made by createLogger gets the access line through pino itself', () => {
    const out = memory()
    const detach = attachLogger(pino({ base: undefined }, out.stream))
    try {
      events.decision.publish(decision({ requestId: 'foreign' }))
    } finally {
      detach()
    }
    const [line] = out.lines()
    assert.deepEqual([line?.requestId, line?.level, line?.msg, line?.tool], ['foreign', 30, 'request', 'echo'])
  })

  test('one info access line per request, an error line for 5xx, JSON with ISO time and level words', () => {
    const out = memory()
    const logger = createLogger('info', out.stream)
    const detach = attachLogger(logger)
    try {
      events.decision.publish(decision())
      events.decision.publish(decision({ status: 401, decision: 'deny', reason: 'expired', subject: undefined, issuer: undefined }))
      events.decision.publish(decision({ status: 502, decision: 'error', reason: 'upstream_unreachable' }))
    } finally {
      detach()
    }
    const lines = out.lines()
    assert.equal(lines.length, 3)
    assert.deepEqual(lines.map((l) => l.level), ['info', 'info', 'error'])
    assert.ok(lines.every((l) => l.msg === 'request'))
    assert.match(String(lines[0]?.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    assert.equal(lines[1]?.reason, 'expired')
    assert.equal(lines[2]?.reason, 'upstream_unreachable')
  })

  test('below info, access lines of non-5xx requests are dropped', () => {
    const out = memory()
    const detach = attachLogger(createLogger('warn', out.stream))
    try {
      events.decision.publish(decision())
      events.decision.publish(decision({ status: 503, decision: 'error', reason: 'verifier_unavailable' }))
    } finally {
      detach()
    }
    assert.deepEqual(out.lines().map((l) => l.status), [503])
  })

  test('key fetches, introspection, streams and reloads are logged without payload secrets', () => {
    const out = memory()
    const detach = attachLogger(createLogger('trace', out.stream))
    try {
      events.jwksFetch.publish({ issuer: 'https://as.example', url: 'https://as.example/jwks', ok: true })
      events.jwksFetch.publish({ issuer: 'https://as.example', url: 'https://as.example/jwks', ok: false })
      events.introspection.publish({ issuer: 'https://as.example', cached: false, outcome: 'active', durationMs: 3 })
      events.introspection.publish({ issuer: 'https://as.example', cached: false, outcome: 'error' })
      events.stream.publish({ open: true })
      events.reload.publish({ ok: false, problems: ['resource.canonicalUri: must be an https URL'] })
      events.reload.publish({ ok: true })
      events.notice.publish({ level: 'warn', message: 'careful' })
    } finally {
      detach()
    }
    const lines = out.lines()
    assert.deepEqual(
      lines.map((l) => [l.level, l.msg]),
      [
        ['debug', 'keys fetched'],
        ['warn', 'key fetch failed'],
        ['debug', 'introspection'],
        ['warn', 'introspection failed'],
        ['trace', 'stream opened'],
        ['error', 'configuration reload refused; the running configuration is kept'],
        ['info', 'configuration reloaded'],
        ['warn', 'careful'],
      ],
    )
    assert.deepEqual(lines[5]?.problems, ['resource.canonicalUri: must be an https URL'])
  })

  test('detaching stops the lines', () => {
    const out = memory()
    attachLogger(createLogger('info', out.stream))()
    events.decision.publish(decision())
    assert.equal(out.lines().length, 0)
  })
})

describe('createLogger redaction', () => {
  test('authorization, tokens, secrets and claims passed by mistake are censored', () => {
    const out = memory()
    const logger = createLogger('trace', out.stream, { worker: 2 })
    const secret = 'eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.c2lnbmF0dXJl'
    logger.debug({ headers: { authorization: `Bearer ${secret}` }, token: secret, claims: { email: 'a@b.c' }, clientSecret: 's3cr3t-value' }, 'oops')
    logger.info({ req: { headers: { authorization: `Bearer ${secret}` } }, nested: { secret: 's3cr3t-value' } }, 'oops again')
    const text = JSON.stringify(out.lines())
    assert.ok(!text.includes(secret), 'token leaked')
    assert.ok(!text.includes('s3cr3t-value'), 'secret leaked')
    assert.ok(!text.includes('a@b.c'), 'claim leaked')
    assert.ok(text.includes('[redacted]'))
    assert.ok(out.lines().every((l) => l.worker === 2))
  })
})

describe('logNotices', () => {
  test('each start-up notice is a warning; an ignored variable of another program is info', () => {
    const out = memory()
    logNotices(createLogger('info', out.stream), {
      notices: ['TLS is off while listening on 0.0.0.0: ...'],
      ignored: ['MCP_RESOLVER is ignored: ...'],
    })
    assert.deepEqual(out.lines().map((l) => [l.level, l.msg]), [
      ['info', 'MCP_RESOLVER is ignored: ...'],
      ['warn', 'TLS is off while listening on 0.0.0.0: ...'],
    ])
  })
})

describe('access lines follow the logger level, also after a reload changes it', () => {
  test('none at warn; one once the level is info; fields unredacted but fixed', () => {
    const lines: string[] = []
    const logger = createLogger('warn', { write: (s: string) => void lines.push(s) } as unknown as NodeJS.WritableStream)
    const detach = attachLogger(logger)
    try {
      const e = { requestId: 'r1', time: 0, httpMethod: 'POST', path: '/mcp', status: 200, durationMs: 1, decision: 'allow' }
      events.decision.publish(e)
      assert.equal(lines.length, 0)
      logger.level = 'info'
      events.decision.publish({ ...e, requestId: 'r2', subject: 'alice' })
      assert.equal(lines.length, 1)
      const line = JSON.parse(lines[0] as string) as Record<string, unknown>
      assert.deepEqual([line.requestId, line.sub, line.msg], ['r2', 'alice', 'request'])
      assert.equal('authorization' in line, false)
    } finally {
      detach()
    }
  })
})
