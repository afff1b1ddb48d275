import { test, describe, mock } from 'node:test'
import assert from 'node:assert/strict'
import fs, { readFileSync } from 'node:fs'
import { mkdtemp, readFile, rename, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { answerGate } from '../../../src/observability/answer-gate.js'
import { auditLine, createAuditTrail, createMcpCallFilter, toAuditRecord } from '../../../src/observability/audit.js'
import { events, type DecisionEvent } from '../../../src/observability/events.js'

function decision(overrides: Partial<DecisionEvent> = {}): DecisionEvent {
  return {
    requestId: 'req-1',
    time: Date.UTC(2026, 0, 2, 3, 4, 5, 678),
    httpMethod: 'POST',
    path: '/mcp',
    status: 200,
    durationMs: 1,
    upstreamMs: 1,
    decision: 'allow',
    reason: undefined,
    mcpMethod: 'tools/call',
    target: 'delete_repo',
    protocolVersion: '2025-11-25',
    subject: 'user-1',
    clientId: 'client-1',
    issuer: 'https://as.example',
    ...overrides,
  }
}

async function readLines(file: string): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(file, 'utf8').catch(() => '')
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)
}

async function waitForLines(file: string, count: number): Promise<Array<Record<string, unknown>>> {
  for (let i = 0; i < 200; i++) {
    const lines = await readLines(file)
    if (lines.length >= count) return lines
    await sleep(10)
  }
  return readLines(file)
}

describe('toAuditRecord', () => {
  test('holds who, what, the decision and the request id, nothing else', () => {
    assert.deepEqual(toAuditRecord(decision()), {
      audit: 'mcp.decision',
      time: '2026-01-02T03:04:05.678Z',
      requestId: 'req-1',
      sub: 'user-1',
      client_id: 'client-1',
      iss: 'https://as.example',
      method: 'tools/call',
      tool: 'delete_repo',
      decision: 'allow',
      reason: undefined,
      status: 200,
      httpMethod: 'POST',
      protocolVersion: '2025-11-25',
    })
    const denied = toAuditRecord(decision({ mcpMethod: 'resources/read', target: 'file:///x', decision: 'deny', reason: 'insufficient_scope', status: 403 }))
    assert.equal(denied.resource, 'file:///x')
    assert.equal(denied.reason, 'insufficient_scope')
    assert.equal('tool' in denied, false)
  })
})

describe('auditLine', () => {
  test('the bytes of JSON.stringify(toAuditRecord(e)), whatever the fields hold', () => {
    const tricky: Array<Partial<DecisionEvent>> = [
      {},
      { status: 401, decision: 'deny', reason: 'no_credentials', subject: undefined, clientId: undefined, issuer: undefined, mcpMethod: undefined, target: undefined, protocolVersion: undefined },
      { mcpMethod: 'resources/read', target: 'file:///a "quoted"\\path\nnext', subject: 'ünïcødé 😀', clientId: 'lone \ud800' },
      { mcpMethod: 'prompts/get', target: '\u2028\u0000', httpMethod: 'GET', status: 499, decision: 'error', reason: 'client_closed' },
      { mcpMethod: 'tools/list', target: 'not a tool call', time: Date.UTC(2026, 5, 30, 23, 59, 59, 999) },
    ]
    for (const overrides of tricky) {
      const e = decision(overrides)
      assert.equal(auditLine(e), `${JSON.stringify(toAuditRecord(e))}\n`)
    }
  })
})

describe('createMcpCallFilter', () => {
  const isCall = createMcpCallFilter({ resourcePath: '/mcp', excluded: ['/.well-known/oauth-protected-resource/mcp', '/healthz'] })
  const table: Array<[string, string, boolean]> = [
    ['POST', '/mcp', true],
    ['GET', '/mcp', true],
    ['DELETE', '/mcp/', true],
    ['POST', '/mcp/sub', true],
    ['OPTIONS', '/mcp', false],
    ['POST', '/mcpx', false],
    ['GET', '/.well-known/oauth-protected-resource/mcp', false],
    ['GET', '/healthz', false],
    ['GET', '/other', false],
  ]
  for (const [method, path, expected] of table) {
    test(`${method} ${path} -> ${expected}`, () => {
      assert.equal(isCall(decision({ httpMethod: method, path })), expected)
    })
  }
  test('resource path / covers everything but the exclusions', () => {
    const root = createMcpCallFilter({ resourcePath: '/', excluded: ['/healthz'] })
    assert.equal(root(decision({ path: '/' })), true)
    assert.equal(root(decision({ path: '/anything' })), true)
    assert.equal(root(decision({ path: '/healthz' })), false)
  })
})

describe('createAuditTrail', () => {
  test('appends one line per MCP call to the file, survives a logrotate move via reopen', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'audit-'))
    const file = join(dir, 'sub', 'audit.jsonl')
    const trail = createAuditTrail({ file, resourcePath: '/mcp', excluded: ['/healthz'] })
    try {
      events.decision.publish(decision({ requestId: 'a' }))
      events.decision.publish(decision({ requestId: 'b', path: '/healthz', httpMethod: 'GET' }))
      events.decision.publish(decision({ requestId: 'c', decision: 'deny', reason: 'expired', status: 401, subject: undefined }))
      const lines = await waitForLines(file, 2)
      assert.deepEqual(lines.map((l) => l.requestId), ['a', 'c'])

      await rename(file, `${file}.1`)
      trail.reopen()
      events.decision.publish(decision({ requestId: 'd' }))
      const after = await waitForLines(file, 1)
      assert.deepEqual(after.map((l) => l.requestId), ['d'])
      assert.deepEqual((await readLines(`${file}.1`)).map((l) => l.requestId), ['a', 'c'])
    } finally {
      trail.close()
      await sleep(20)
      await rm(dir, { recursive: true, force: true })
    }
  })

  for (const [sync, written] of [['write', 1], ['fsync', 1], ['none', 0]] as const) {
    test(`MCP_AUDIT_SYNC=${sync}: ${written === 1 ? 'an answer released through the gate waits until the record is in the file' : 'the record is buffered and the answer does not wait'}`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'audit-sync-'))
      const file = join(dir, 'audit.jsonl')
      const trail = createAuditTrail({ file, sync, resourcePath: '/mcp', excluded: [] })
      const fsyncs = mock.method(fs, 'fsyncSync')
      const lines = () => readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').length
      try {
        events.decision.publish(decision({ requestId: `sync-${sync}` }))
        let seen: { lines: number; fsyncs: number } | undefined
        answerGate.release(() => (seen = { lines: lines(), fsyncs: fsyncs.mock.callCount() }))
        if (written === 1) assert.equal(seen, undefined, 'the answer waits for the commit')
        await new Promise((resolve) => setImmediate(resolve))
        // Read inside the answer, synchronously: no timer of the writer has had a chance to run.
        assert.deepEqual(seen, { lines: written, fsyncs: sync === 'fsync' ? 1 : 0 })
      } finally {
        fsyncs.mock.restore()
        trail.close()
        await rm(dir, { recursive: true, force: true })
      }
    })
  }

  test('the records of one turn go out in one write, before any of its answers', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'audit-group-'))
    const file = join(dir, 'audit.jsonl')
    const opens = mock.method(fs, 'openSync')
    const trail = createAuditTrail({ file, sync: 'write', resourcePath: '/mcp', excluded: [] })
    const fd = opens.mock.calls[0]?.result
    opens.mock.restore()
    const writes = mock.method(fs, 'writeSync')
    try {
      const seen: number[] = []
      for (let i = 0; i < 5; i++) {
        events.decision.publish(decision({ requestId: `group-${i}` }))
        answerGate.release(() => seen.push(readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').length))
      }
      await new Promise((resolve) => setImmediate(resolve))
      assert.deepEqual(seen, [5, 5, 5, 5, 5])
      // Only this file's writes count (the test run keeps an audit trail of its own).
      assert.equal(writes.mock.calls.filter((call) => call.arguments[0] === fd).length, 1)
    } finally {
      writes.mock.restore()
      trail.close()
      await rm(dir, { recursive: true, force: true })
    }
  })

  test('off writes nothing and stays unsubscribed', () => {
    const before = events.decision.hasSubscribers
    const trail = createAuditTrail({ file: 'off', resourcePath: '/mcp', excluded: [] })
    assert.equal(events.decision.hasSubscribers, before)
    trail.close()
  })

  test('stdout goes through the shared writer', async () => {
    const written: string[] = []
    let flushes = 0
    const stdout = {
      write: (line: string) => written.push(line) > 0,
      flushSync: () => void flushes++,
    }
    const trail = createAuditTrail({ file: 'stdout', resourcePath: '/mcp', excluded: [], stdout })
    try {
      events.decision.publish(decision({ requestId: 'shared' }))
      assert.equal(flushes, 0, 'written out in the turn\'s commit, not per record')
      await new Promise((resolve) => setImmediate(resolve))
    } finally {
      trail.close()
    }
    assert.equal(written.length, 1)
    assert.equal(flushes, 1, 'sync write (the default) writes the record out before the turn ends')
    assert.ok(written[0]?.endsWith('\n'))
    assert.equal((JSON.parse(written[0] as string) as { requestId: string }).requestId, 'shared')
    events.decision.publish(decision())
    assert.equal(written.length, 1, 'closed trail must not write')
  })
})
