import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import type { Transform } from 'node:stream'
import { listFilterFor, type ListFilter } from '../../../src/policy/filter-list.js'
import { createSseListFilter } from '../../../src/policy/filter-sse.js'
import type { ProtocolVersion } from '../../../src/jsonrpc/protocol-version.js'
import { EXAMPLE, policyOf, principalOf, requestOf } from './support.js'

const CALL = ['mcp:connect', 'mcp:tools:read', 'mcp:tools:call']

function filterFor(version: ProtocolVersion, methods: [string, string?][] = [['tools/list']]): ListFilter {
  const filter = listFilterFor(policyOf({ ...EXAMPLE, filterLists: true }), principalOf(CALL), requestOf(methods, version))
  assert.ok(filter)
  return filter
}

const LIST = { jsonrpc: '2.0', id: 1, result: { tools: [{ name: 'echo' }, { name: 'delete_repo' }, { name: 'x y' }], nextCursor: 'n', ttlMs: 5 } }
const LIST_JSON = JSON.stringify(LIST)
const FILTERED = JSON.stringify({ jsonrpc: '2.0', id: 1, result: { tools: [{ name: 'echo' }, { name: 'x y' }], nextCursor: 'n', ttlMs: 5 } })
const FILTERED_PRIVATE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  result: { tools: [{ name: 'echo' }, { name: 'x y' }], nextCursor: 'n', ttlMs: 5, cacheScope: 'private' },
})
const PROGRESS = '{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}'

async function run(transform: Transform, chunks: readonly Buffer[]): Promise<string> {
  const out: Buffer[] = []
  transform.on('data', (chunk: Buffer) => out.push(chunk))
  const ended = once(transform, 'end')
  for (const chunk of chunks) transform.write(chunk)
  transform.end()
  await ended
  return Buffer.concat(out).toString('utf8')
}

/** Every way of cutting `text` in two, plus one byte per chunk. */
function splits(text: string): Buffer[][] {
  const bytes = Buffer.from(text, 'utf8')
  const out: Buffer[][] = [[bytes]]
  for (let i = 1; i < bytes.length; i++) out.push([bytes.subarray(0, i), bytes.subarray(i)])
  out.push([...bytes].map((b) => Buffer.from([b])))
  return out
}

interface Row {
  name: string
  input: string
  expected: string
  version?: ProtocolVersion
  methods?: [string, string?][]
}

const rows: Row[] = [
  {
    name: 'one message event, LF',
    input: `event: message\ndata: ${LIST_JSON}\n\n`,
    expected: `event: message\ndata: ${FILTERED}\n\n`,
  },
  {
    name: 'default event type, id and retry kept in place, CRLF',
    input: `id: 7\r\ndata: ${LIST_JSON}\r\nretry: 10\r\n\r\n`,
    expected: `id: 7\r\ndata: ${FILTERED}\r\nretry: 10\r\n\r\n`,
  },
  {
    name: 'CR line endings',
    input: `: hi\revent: message\rdata: ${LIST_JSON}\r\r`,
    expected: `: hi\revent: message\rdata: ${FILTERED}\r\r`,
  },
  {
    name: 'multi-line data joined with LF',
    input: `data: {"jsonrpc":"2.0",\ndata: "id":1,\ndata:"result":${JSON.stringify(LIST.result)}}\n\n`,
    expected: `data: ${FILTERED}\n\n`,
  },
  {
    name: 'notifications and comments before, a trailing event after',
    input: `: keepalive\n\nevent: message\ndata: ${PROGRESS}\n\n: ping\ndata: ${LIST_JSON}\n\ndata: {"after":true}\n\n`,
    expected: `: keepalive\n\nevent: message\ndata: ${PROGRESS}\n\n: ping\ndata: ${FILTERED}\n\ndata: {"after":true}\n\n`,
  },
  {
    name: 'a named event with the same payload is not a message event',
    input: `event: other\ndata: ${LIST_JSON}\n\ndata: ${LIST_JSON}\n\n`,
    expected: `event: other\ndata: ${LIST_JSON}\n\ndata: ${FILTERED}\n\n`,
  },
  {
    name: 'event type set after the data still counts',
    input: `data: ${LIST_JSON}\nevent: other\n\n`,
    expected: `data: ${LIST_JSON}\nevent: other\n\n`,
  },
  {
    name: 'a response to another id passes, then ours is rewritten',
    input: `data: {"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"delete_repo"}]}}\n\ndata: ${LIST_JSON}\n\n`,
    expected: `data: {"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"delete_repo"}]}}\n\ndata: ${FILTERED}\n\n`,
  },
  {
    name: 'non-JSON data and data without a value pass',
    input: `data: hello [1]\n\ndata\n\ndata:\n\n`,
    expected: `data: hello [1]\n\ndata\n\ndata:\n\n`,
  },
  {
    name: 'broken JSON passes as it was',
    input: `data: {"result": [\n\n`,
    expected: `data: {"result": [\n\n`,
  },
  {
    name: 'after the list response the rest is untouched, even another copy',
    input: `data: ${LIST_JSON}\n\ndata: ${LIST_JSON}\n\n: bye\n`,
    expected: `data: ${FILTERED}\n\ndata: ${LIST_JSON}\n\n: bye\n`,
  },
  {
    name: 'an error response ends the watch too',
    input: `data: {"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"m"}}\n\ndata: ${LIST_JSON}\n\n`,
    expected: `data: {"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"m"}}\n\ndata: ${LIST_JSON}\n\n`,
  },
  {
    name: 'a server request with the same id is not a response',
    input: `data: {"jsonrpc":"2.0","id":1,"method":"roots/list","result":{}}\n\ndata: ${LIST_JSON}\n\n`,
    expected: `data: {"jsonrpc":"2.0","id":1,"method":"roots/list","result":{}}\n\ndata: ${FILTERED}\n\n`,
  },
  {
    name: 'unterminated last event is forwarded as it was',
    input: `data: ${PROGRESS}\n\ndata: ${LIST_JSON}`,
    expected: `data: ${PROGRESS}\n\ndata: ${LIST_JSON}`,
  },
  {
    name: 'non-ASCII content survives byte splits',
    input: `data: {"jsonrpc":"2.0","method":"n","params":{"t":"日本語"}}\n\ndata: ${LIST_JSON}\n\n`,
    expected: `data: {"jsonrpc":"2.0","method":"n","params":{"t":"日本語"}}\n\ndata: ${FILTERED}\n\n`,
  },
  {
    name: '2026-07-28 marks the rewritten result private',
    version: '2026-07-28',
    input: `event: message\ndata: ${LIST_JSON}\n\n`,
    expected: `event: message\ndata: ${FILTERED_PRIVATE}\n\n`,
  },
  {
    name: 'a batch response in one event (2025-03-26)',
    methods: [['tools/call', 'echo'], ['tools/list']],
    input: `data: [{"jsonrpc":"2.0","id":1,"result":{"content":[]}},{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"delete_repo"},{"name":"echo"}]}}]\n\n`,
    expected: `data: [{"jsonrpc":"2.0","id":1,"result":{"content":[]}},{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"echo"}]}}]\n\n`,
  },
]

describe('createSseListFilter', () => {
  for (const row of rows) {
    test(`${row.name} (every chunk split)`, async () => {
      const version = row.version ?? '2025-11-25'
      for (const chunks of splits(row.input)) {
        const out = await run(createSseListFilter(filterFor(version, row.methods), version), chunks)
        assert.equal(out, row.expected, `split ${chunks.map((c) => c.length).join('+')}`)
      }
    })
  }

  test('comment lines go out at once, and a finished event is not held back', () => {
    const transform = createSseListFilter(filterFor('2025-11-25'), '2025-11-25')
    const seen: string[] = []
    transform.on('data', (chunk: Buffer) => seen.push(chunk.toString()))
    transform.write(': keepalive\n')
    assert.deepEqual(seen, [': keepalive\n'])
    transform.write(`data: ${PROGRESS}\n`)
    transform.write('\n')
    assert.equal(seen.join(''), `: keepalive\ndata: ${PROGRESS}\n\n`)
    transform.write('event: endpoint\ndata: /x')
    assert.equal(seen.join(''), `: keepalive\ndata: ${PROGRESS}\n\nevent: endpoint\ndata: /x`)
    transform.destroy()
  })

  test('non-JSON data goes out before its event ends', () => {
    const transform = createSseListFilter(filterFor('2025-11-25'), '2025-11-25')
    const seen: string[] = []
    transform.on('data', (chunk: Buffer) => seen.push(chunk.toString()))
    transform.write('id: 1\ndata: plain text\n')
    assert.equal(seen.join(''), 'id: 1\ndata: plain text\n')
    transform.destroy()
  })

  test('an undecided event larger than maxEventBytes fails the stream', async () => {
    const transform = createSseListFilter(filterFor('2025-11-25'), '2025-11-25', { maxEventBytes: 64 })
    transform.on('data', () => {})
    const failed = once(transform, 'error')
    transform.write(`data: {"jsonrpc":"2.0","id":1,"result":{"tools":[${'{"name":"a"},'.repeat(20)}`)
    const [error] = (await failed) as [Error]
    assert.match(error.message, /too large/)
  })
})
