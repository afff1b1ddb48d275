import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import type { ProtocolVersion } from '../../../src/jsonrpc/protocol-version.js'
import { listFilterFor, rewriteJsonBody, type ListFilter } from '../../../src/policy/filter-list.js'
import { spliceJsonList } from '../../../src/policy/splice-list.js'
import { EXAMPLE, policyOf, principalOf, requestOf } from './support.js'

/**
 * The byte splice must answer exactly as the parse-and-rewrite does whenever it answers at all:
 * the same entries in the same order with the same members (compared after parsing both), the
 * same buffer when nothing changes, and no answer for anything the rewrite refuses. Crafted
 * cases first, then generated bodies and byte-level mutations of them (seeded, reproducible).
 */

const POLICY = policyOf({ ...EXAMPLE, filterLists: true })
const CALL = ['mcp:connect', 'mcp:tools:read', 'mcp:tools:call', 'mcp:prompts', 'mcp:resources:read']

function filterOf(methods: [string, string?][], version: ProtocolVersion, scopes = CALL, claims: Record<string, unknown> = {}): ListFilter {
  const filter = listFilterFor(POLICY, principalOf(scopes, claims), requestOf(methods, version))
  assert.ok(filter)
  return filter
}

type Outcome = { kind: 'throws' } | { kind: 'same' } | { kind: 'rewritten'; text: string }

function slowOutcome(filter: ListFilter, body: Buffer, version: ProtocolVersion): Outcome {
  let out: Buffer
  try {
    out = rewriteJsonBody(filter, body, version)
  } catch {
    return { kind: 'throws' }
  }
  return out === body ? { kind: 'same' } : { kind: 'rewritten', text: out.toString() }
}

/** Asserts the splice agrees with the rewrite; returns whether the splice decided. */
function agree(filter: ListFilter, body: Buffer, version: ProtocolVersion): boolean {
  const fast = spliceJsonList(filter, body, version)
  const slow = slowOutcome(filter, body, version)
  const shown = body.toString('latin1')
  if (fast === undefined) return false
  assert.notEqual(slow.kind, 'throws', `the splice accepted what JSON.parse refuses: ${shown}`)
  if (slow.kind === 'same') assert.equal(fast, body, `nothing to change, yet the splice changed: ${shown}`)
  else {
    assert.notEqual(fast, body, `the splice left unchanged: ${shown}`)
    // Same members, same order, same values: serialized alike once parsed.
    assert.equal(JSON.stringify(JSON.parse(fast.toString('utf8'))), slow.kind === 'rewritten' ? slow.text : '', shown)
  }
  return true
}

const TOOLS = [{ name: 'echo', description: 'e' }, { name: 'delete_repo' }, { name: 'read_repo', inputSchema: { type: 'object' } }, { title: 'no name' }, 'not an object', { name: 'write_both' }]

describe('spliceJsonList', () => {
  test('cuts dropped entries with their separator, keeps every other byte, marks 2026-07-28 private', () => {
    const filter = filterOf([['tools/list']], '2026-07-28', [...CALL, 'repo:read'])
    const body = Buffer.from(
      `{ "jsonrpc": "2.0", "id": 1,\n  "result": { "tools": [ {"name": "echo", "description": "e"} , {"name":"delete_repo"},{"name":"read_repo","inputSchema":{"type":"object"}} ],\n "nextCursor": "c2", "cacheScope": "public", "ttlMs": 1e3 } }`,
    )
    const out = spliceJsonList(filter, body, '2026-07-28')
    assert.ok(out)
    assert.equal(
      out.toString(),
      `{ "jsonrpc": "2.0", "id": 1,\n  "result": { "tools": [ {"name": "echo", "description": "e"} , {"name":"read_repo","inputSchema":{"type":"object"}} ],\n "nextCursor": "c2", "cacheScope": "private", "ttlMs": 1e3 } }`,
    )
    assert.ok(agree(filter, body, '2026-07-28'))
  })

  test('dropped entries first, between, and last: each cut with one separator', () => {
    const filter = filterOf([['tools/list']], '2025-11-25', CALL)
    const cases: [string, string][] = [
      ['[{"name":"delete_repo"}, {"name":"echo"}, {"name":"x_1"},{"name":"read_repo"} ,{"name":"y"}]', '[{"name":"echo"}, {"name":"x_1"},{"name":"y"}]'],
      ['[ {"name":"echo"} , {"name":"delete_repo"} , {"name":"read_repo"} ]', '[ {"name":"echo"} ]'],
      ['[{"name":"delete_repo"},{"name":"read_repo"}]', '[]'],
      ['[ 7 ]', '[  ]'],
    ]
    for (const [list, expected] of cases) {
      const body = Buffer.from(`{"jsonrpc":"2.0","id":1,"result":{"tools":${list}}}`)
      assert.equal(spliceJsonList(filter, body, '2025-11-25')?.toString(), `{"jsonrpc":"2.0","id":1,"result":{"tools":${expected}}}`)
      assert.ok(agree(filter, body, '2025-11-25'))
    }
  })

  test('cacheScope absent: appended last, as the rewrite does', () => {
    const filter = filterOf([['tools/list']], '2026-07-28', [...CALL, 'repo:admin'])
    const body = Buffer.from('{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo"}],"ttlMs":5}}')
    assert.equal(spliceJsonList(filter, body, '2026-07-28')?.toString(), '{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo"}],"ttlMs":5,"cacheScope":"private"}}')
  })

  const crafted: { name: string; body: string; methods?: [string, string?][]; version?: ProtocolVersion; decided: boolean }[] = [
    { name: 'one response', body: JSON.stringify({ jsonrpc: '2.0', id: 1, result: { tools: TOOLS } }), decided: true },
    { name: 'id after result', body: JSON.stringify({ result: { tools: TOOLS }, jsonrpc: '2.0', id: 1 }), decided: true },
    { name: 'string id of another type', body: JSON.stringify({ jsonrpc: '2.0', id: '1', result: { tools: TOOLS } }), decided: true },
    { name: 'number id written 1.0e0', body: '{"jsonrpc":"2.0","id":1.0e0,"result":{"tools":[{"name":"delete_repo"}]}}', decided: true },
    { name: 'another id', body: JSON.stringify({ jsonrpc: '2.0', id: 7, result: { tools: TOOLS } }), decided: true },
    { name: 'a request, not a response', body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'x', result: { tools: TOOLS } }), decided: true },
    { name: 'an error response', body: '{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"tools"}}', decided: true },
    { name: 'result not an object', body: '{"jsonrpc":"2.0","id":1,"result":[{"tools":[{"name":"delete_repo"}]}]}', decided: true },
    { name: 'list not an array', body: '{"jsonrpc":"2.0","id":1,"result":{"tools":{"name":"delete_repo"}}}', decided: true },
    { name: 'empty list', body: '{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}', decided: true },
    { name: 'name not a string', body: '{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":["echo"]},{"name":"echo"}]}}', decided: true },
    { name: 'escaped name', body: '{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"ech\\u006f"},{"name":"delete\\u005frepo"}]}}', decided: true },
    { name: 'escaped unrelated key', body: '{"jsonrpc":"2.0","id":1,"result":{"tools":[{"n\\u0061me2":"x","name":"echo"}]}}', decided: true },
    { name: 'unicode everywhere', body: '{"jsonrpc":"2.0","id":"é","result":{"tools":[{"name":"echo","description":"日本語 ☃"}]}}', methods: [['tools/list']], decided: true },
    {
      name: 'batch: only list responses change',
      body: JSON.stringify([{ jsonrpc: '2.0', id: 2, result: { content: [] } }, { jsonrpc: '2.0', id: 1, result: { tools: TOOLS } }, { jsonrpc: '2.0', id: 3, result: { prompts: [{ name: 'secret' }, { name: 'open' }] } }]),
      methods: [['tools/list'], ['tools/call', 'echo'], ['prompts/list']],
      decided: true,
    },
    { name: 'batch of scalars', body: '[1, "a", null, [], {}]', decided: true },
    { name: 'empty batch', body: ' [ ] ', decided: true },
    { name: 'resources', body: JSON.stringify({ jsonrpc: '2.0', id: 1, result: { resources: [{ uri: 'file:///etc/passwd' }, { uri: 'file:///home/a' }] } }), methods: [['resources/list']], decided: true },
    { name: 'templates', body: JSON.stringify({ jsonrpc: '2.0', id: 1, result: { resourceTemplates: [{ uriTemplate: 'file:///secret/{p}' }, { uriTemplate: 'file:///home/{p}' }] } }), methods: [['resources/templates/list']], decided: true },
    // Left to the slow path:
    { name: 'duplicate id', body: '{"jsonrpc":"2.0","id":5,"id":1,"result":{"tools":[{"name":"delete_repo"}]}}', decided: false },
    { name: 'duplicate result', body: '{"jsonrpc":"2.0","id":1,"result":{"tools":[]},"result":{"tools":[{"name":"delete_repo"}]}}', decided: false },
    { name: 'duplicate list', body: '{"jsonrpc":"2.0","id":1,"result":{"tools":[],"tools":[{"name":"delete_repo"}]}}', decided: false },
    { name: 'duplicate name', body: '{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo","name":"delete_repo"}]}}', decided: false },
    { name: 'escaped id key', body: '{"jsonrpc":"2.0","\\u0069d":1,"result":{"tools":[{"name":"delete_repo"}]}}', decided: false },
    { name: 'escaped list key', body: '{"jsonrpc":"2.0","id":1,"result":{"t\\u006fols":[{"name":"delete_repo"}]}}', decided: false },
    { name: 'escaped name key', body: '{"jsonrpc":"2.0","id":1,"result":{"tools":[{"n\\u0061me":"delete_repo"}]}}', decided: false },
    { name: 'deep nesting', body: `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo","x":${'['.repeat(100)}${']'.repeat(100)}}]}}`, decided: false },
    { name: 'invalid UTF-8', body: '{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo","d":"\xff"}]}}', decided: false },
    { name: 'not JSON', body: 'tools: echo, delete_repo', decided: false },
    { name: 'trailing comma', body: '{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo"},]}}', decided: false },
    { name: 'raw control character in a string', body: '{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo","d":"a\nb"}]}}', decided: false },
    { name: 'leading zero', body: '{"jsonrpc":"2.0","id":01,"result":{"tools":[]}}', decided: false },
    { name: 'byte order mark', body: '\ufeff{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}', decided: false },
    { name: 'two documents', body: '{"id":1,"result":{"tools":[]}} {}', decided: false },
    { name: 'bad escape', body: '{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"\\x41"}]}}', decided: false },
    { name: 'truncated', body: '{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo"}', decided: false },
  ]
  for (const row of crafted) {
    for (const version of ['2025-03-26', '2026-07-28'] as const) {
      test(`${row.name} (${version}): ${row.decided ? 'decided alike' : 'left to the rewrite'}`, () => {
        const filter = filterOf(row.methods ?? [['tools/list']], version)
        const body = row.name === 'invalid UTF-8' ? Buffer.from(row.body, 'latin1') : Buffer.from(row.body)
        assert.equal(agree(filter, body, version), row.decided)
      })
    }
  }

  test('the tool allowlist claim is applied as by the rewrite', () => {
    const filter = filterOf([['tools/list']], '2025-11-25', [...CALL, 'repo:admin'], { mcp_allowed_tools: 'delete_repo echo' })
    const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 1, result: { tools: TOOLS } }))
    assert.ok(agree(filter, body, '2025-11-25'))
    const out = JSON.parse(spliceJsonList(filter, body, '2025-11-25')?.toString() ?? 'null') as { result: { tools: { name: string }[] } }
    assert.deepEqual(out.result.tools.map((t) => t.name), ['echo', 'delete_repo'])
  })

  test('generated bodies and their mutations: the splice never disagrees with the rewrite', () => {
    const random = seeded(0x5eed)
    const filters: [ListFilter, ProtocolVersion][] = [
      [filterOf([['tools/list']], '2025-11-25'), '2025-11-25'],
      [filterOf([['tools/list']], '2026-07-28', [...CALL, 'repo:admin']), '2026-07-28'],
      [filterOf([['tools/list'], ['prompts/list'], ['resources/list']], '2025-03-26', [...CALL, 'repo:read', 'files:read']), '2025-03-26'],
      [filterOf([['tools/list']], '2025-06-18', ['mcp:connect', 'mcp:tools:read']), '2025-06-18'],
    ]
    let decided = 0
    let total = 0
    for (let round = 0; round < 3000; round++) {
      const [filter, version] = filters[round % filters.length] as [ListFilter, ProtocolVersion]
      const text = random() < 0.3 ? `[${[0, 1, 2].map(() => generateMessage(random)).join(',')}]` : generateMessage(random)
      const bodies = [text, mutate(text, random), mutate(text, random)]
      for (const candidate of bodies) {
        total++
        if (agree(filter, Buffer.from(candidate), version)) decided++
      }
    }
    // Most well-formed bodies are decided by the splice (else it would not be worth having).
    assert.ok(decided > total / 3, `${decided} of ${total} decided`)
  })
})

/** A small deterministic generator (mulberry32), so a failure names a reproducible case. */
function seeded(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T
}

const NAMES = ['echo', 'delete_repo', 'read_repo', 'write_both', 'secret', 'open', 'file:///etc/passwd', 'file:///home/a', 'file:///secret/x', 'ech\\u006f', 'é']
const SPACE = ['', '', '', ' ', '\n', '\t', ' \r\n ']

function space(random: () => number): string {
  return pick(random, SPACE)
}

function key(random: () => number, name: string): string {
  // Now and then written with an escape: the splice must see through it or step aside.
  if (random() < 0.05) return `"${name.replace(/^./, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}"`
  return JSON.stringify(name)
}

function object(random: () => number, members: [string, string][]): string {
  const shuffled = members.filter(() => random() > 0.05)
  if (random() < 0.05 && shuffled.length > 0) shuffled.push(pick(random, shuffled))
  if (random() < 0.5) shuffled.reverse()
  return `{${space(random)}${shuffled.map(([k, v]) => `${key(random, k)}${space(random)}:${space(random)}${v}`).join(`,${space(random)}`)}${space(random)}}`
}

function scalar(random: () => number): string {
  return pick(random, ['1', '-0', '2.5e3', 'true', 'false', 'null', '"x"', '"a\\"b"', '"\\ud800"', '[]', '{}', '{"nested":[1,{"name":"delete_repo"}]}'])
}

function entry(random: () => number, nameKey: string): string {
  if (random() < 0.08) return scalar(random)
  const members: [string, string][] = [[nameKey, random() < 0.9 ? `"${pick(random, NAMES)}"` : scalar(random)]]
  if (random() < 0.5) members.push(['description', '"d"'])
  if (random() < 0.3) members.push(['inputSchema', '{"type":"object","properties":{"name":{"type":"string"}}}'])
  return object(random, members)
}

function generateMessage(random: () => number): string {
  const [listKey, nameKey] = pick(random, [
    ['tools', 'name'],
    ['tools', 'name'],
    ['prompts', 'name'],
    ['resources', 'uri'],
    ['resourceTemplates', 'uriTemplate'],
  ] as const)
  const entries = Array.from({ length: Math.floor(random() * 5) }, () => entry(random, nameKey))
  const result: [string, string][] = [[listKey, random() < 0.93 ? `[${space(random)}${entries.join(`,${space(random)}`)}${space(random)}]` : scalar(random)]]
  if (random() < 0.4) result.push(['nextCursor', '"c"'])
  if (random() < 0.4) result.push(['cacheScope', random() < 0.8 ? '"public"' : scalar(random)])
  if (random() < 0.2) result.push(['_meta', '{"k":[1,2,{"tools":[]}]}'])
  const members: [string, string][] = [
    ['jsonrpc', '"2.0"'],
    ['id', pick(random, ['1', '1', '2', '3', '"1"', 'null', '1.0', '{"id":1}'])],
    ['result', random() < 0.95 ? object(random, result) : scalar(random)],
  ]
  if (random() < 0.05) members.push(['method', '"tools/list"'])
  return object(random, members)
}

/** One random byte-level change: a flip, a deletion or an insertion of JSON punctuation. */
function mutate(text: string, random: () => number): string {
  const at = Math.floor(random() * text.length)
  const insert = pick(random, ['"', ',', '{', '}', '[', ']', ':', '\\', ' ', '0', '\n', '\u0001', 'e'])
  switch (Math.floor(random() * 3)) {
    case 0:
      return text.slice(0, at) + insert + text.slice(at + 1)
    case 1:
      return text.slice(0, at) + text.slice(at + 1)
    default:
      return text.slice(0, at) + insert + text.slice(at)
  }
}
