import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { ResponseFraming } from '../../../src/proxy/response-framing.js'
import { ResponseHeadError, type ResponseHead } from '../../../src/proxy/response-head.js'
import { ResponseParser } from '../../../src/proxy/response-parser.js'

// The backend's response bytes in, what the gateway makes of them out: every row is also fed
// split at each byte offset and one byte at a time, and must read the same.

const MAX_HEAD = 1024

interface Read {
  status: number
  fields: readonly string[]
  body: string
  /** Each `onBody` piece, to see that chunks are handed on as they come. */
  pieces: string[]
  lastFlagged: boolean
  reusable: boolean
  keepAliveTimeout: number | undefined
}

function read(method: string, pieces: readonly Buffer[], eof: boolean): Read | undefined {
  const parser = new ResponseParser(MAX_HEAD)
  let head: ResponseHead | undefined
  let framing: ResponseFraming | undefined
  const body: string[] = []
  let lastFlagged = false
  let reusable: boolean | undefined
  parser.begin(method, {
    onHead(h, f) {
      head = h
      framing = f
    },
    onBody(chunk, last) {
      assert.equal(lastFlagged, false, 'a body piece after the one flagged last')
      body.push(chunk.toString('latin1'))
      lastFlagged = last
    },
    onEnd(r) {
      assert.equal(reusable, undefined, 'onEnd twice')
      reusable = r
    },
  })
  for (const piece of pieces) parser.execute(piece)
  if (eof) parser.eof()
  if (reusable === undefined) return undefined
  assert.ok(head !== undefined && framing !== undefined)
  return {
    status: head.status,
    fields: head.fields,
    body: body.join(''),
    pieces: body,
    lastFlagged,
    reusable,
    keepAliveTimeout: framing.keepAliveTimeout,
  }
}

/** The wire whole, split in two at every offset, and byte by byte. */
function feedings(wire: Buffer): Buffer[][] {
  const out: Buffer[][] = [[wire]]
  for (let i = 1; i < wire.length; i++) out.push([wire.subarray(0, i), wire.subarray(i)])
  out.push([...wire].map((byte) => Buffer.from([byte])))
  return out
}

const wire = (text: string): Buffer => Buffer.from(text, 'latin1')

interface Valid {
  name: string
  method?: string
  wire: string
  /** The backend closes after sending `wire`. */
  eof?: boolean
  status: number
  body: string
  reusable: boolean
  fields?: readonly string[]
  keepAliveTimeout?: number
}

const VALID: Valid[] = [
  {
    name: 'Content-Length body',
    wire: 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\nhello',
    status: 200,
    body: 'hello',
    reusable: true,
    fields: ['content-type', 'application/json', 'content-length', '5'],
  },
  { name: 'Content-Length 0', wire: 'HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n', status: 202, body: '', reusable: true },
  {
    name: 'identical Content-Length values, one field and two (RFC 9112 §6.3 item 5)',
    wire: 'HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc',
    status: 200,
    body: 'abc',
    reusable: true,
  },
  {
    name: 'chunked',
    wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n',
    status: 200,
    body: 'hello world',
    reusable: true,
  },
  {
    name: 'chunked, case-insensitive coding, upper- and lower-case hex sizes',
    wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\nA\r\n0123456789\r\nb\r\nabcdefghijk\r\n0\r\n\r\n',
    status: 200,
    body: '0123456789abcdefghijk',
    reusable: true,
  },
  {
    name: 'chunk extensions, token and quoted values, are ignored (RFC 9112 §7.1.1)',
    wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=1 ; b = "x;y \\" z";c\r\nhello\r\n0;last\r\n\r\n',
    status: 200,
    body: 'hello',
    reusable: true,
  },
  {
    name: 'trailer fields are read and dropped (RFC 9112 §7.1.2)',
    wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n2\r\nok\r\n0\r\nX-Sum: 1\r\nX-Other:\r\n\r\n',
    status: 200,
    body: 'ok',
    reusable: true,
  },
  {
    name: 'close-delimited body (RFC 9112 §6.3 item 8): ends at EOF, never reused',
    wire: 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end',
    eof: true,
    status: 200,
    body: 'until the end',
    reusable: false,
  },
  { name: 'HEAD: no body whatever Content-Length says', method: 'HEAD', wire: 'HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n', status: 200, body: '', reusable: true },
  { name: '204: no body', wire: 'HTTP/1.1 204 No Content\r\n\r\n', status: 204, body: '', reusable: true },
  { name: '304: no body, Content-Length describes the representation', wire: 'HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n', status: 304, body: '', reusable: true },
  {
    name: '100 Continue and 103 Early Hints are skipped',
    wire: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
    status: 200,
    body: 'ok',
    reusable: true,
    fields: ['content-length', '2'],
  },
  { name: 'Connection: close', wire: 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok', status: 200, body: 'ok', reusable: false },
  { name: 'Connection: close among other options', wire: 'HTTP/1.1 200 OK\r\nConnection: x-foo, Close\r\nContent-Length: 2\r\n\r\nok', status: 200, body: 'ok', reusable: false },
  { name: 'HTTP/1.0: closes by default', wire: 'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok', status: 200, body: 'ok', reusable: false },
  { name: 'HTTP/1.0 with keep-alive', wire: 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok', status: 200, body: 'ok', reusable: true },
  {
    name: 'Keep-Alive: timeout= hint, in milliseconds',
    wire: 'HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5, max=100\r\nContent-Length: 0\r\n\r\n',
    status: 200,
    body: '',
    reusable: true,
    keepAliveTimeout: 5000,
  },
  { name: 'a status line without a reason phrase', wire: 'HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n', status: 200, body: '', reusable: true },
  {
    name: 'OWS around values trimmed, inner spaces and obs-text kept byte for byte',
    wire: 'HTTP/1.1 200 OK\r\nX-A:  a  b \t\r\nX-B:\xe9t\xe9\r\nX-Empty:\r\nContent-Length: 0\r\n\r\n',
    status: 200,
    body: '',
    reusable: true,
    fields: ['x-a', 'a  b', 'x-b', '\xe9t\xe9', 'x-empty', '', 'content-length', '0'],
  },
  { name: 'a 5xx is a response like any other', wire: 'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy', status: 503, body: 'busy', reusable: true },
]

interface Invalid {
  name: string
  wire: string
  eof?: boolean
  error: RegExp
}

const CL5 = 'Content-Length: 5\r\n'
const INVALID: Invalid[] = [
  { name: 'Content-Length and Transfer-Encoding both (RFC 9112 §6.3 item 3)', wire: `HTTP/1.1 200 OK\r\n${CL5}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, error: /both Content-Length and Transfer-Encoding/ },
  { name: 'conflicting Content-Length in one field', wire: 'HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello', error: /conflicting Content-Length/ },
  { name: 'conflicting Content-Length fields', wire: `HTTP/1.1 200 OK\r\n${CL5}Content-Length: 6\r\n\r\nhello`, error: /conflicting Content-Length/ },
  { name: 'Content-Length not digits', wire: 'HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n', error: /invalid Content-Length/ },
  { name: 'Content-Length negative', wire: 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', error: /invalid Content-Length/ },
  { name: 'Content-Length with a sign', wire: 'HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello', error: /invalid Content-Length/ },
  { name: 'Content-Length in exponent form', wire: 'HTTP/1.1 200 OK\r\nContent-Length: 5e0\r\n\r\nhello', error: /invalid Content-Length/ },
  { name: 'Content-Length empty', wire: 'HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n', error: /invalid Content-Length/ },
  { name: 'Content-Length with an empty list member', wire: 'HTTP/1.1 200 OK\r\nContent-Length: 5,\r\n\r\nhello', error: /invalid Content-Length/ },
  { name: 'Content-Length too long to be real', wire: 'HTTP/1.1 200 OK\r\nContent-Length: 1234567890123456\r\n\r\n', error: /invalid Content-Length/ },
  { name: 'a transfer coding other than chunked', wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n', error: /unsupported Transfer-Encoding/ },
  { name: 'gzip then chunked', wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n', error: /unsupported Transfer-Encoding/ },
  { name: 'chunked twice', wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', error: /unsupported Transfer-Encoding/ },
  { name: 'Transfer-Encoding in HTTP/1.0 (RFC 9112 §6.1)', wire: 'HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', error: /unsupported Transfer-Encoding/ },
  { name: 'obs-fold (RFC 9112 §5.2)', wire: 'HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\nContent-Length: 0\r\n\r\n', error: /folding/ },
  { name: 'whitespace before the first field', wire: 'HTTP/1.1 200 OK\r\n Content-Length: 0\r\n\r\n', error: /folding/ },
  { name: 'whitespace before the colon (RFC 9112 §5.1)', wire: 'HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n', error: /invalid header name/ },
  { name: 'a field line without a colon', wire: 'HTTP/1.1 200 OK\r\nContent-Length 0\r\n\r\n', error: /without a colon/ },
  { name: 'an empty field name', wire: 'HTTP/1.1 200 OK\r\n: x\r\nContent-Length: 0\r\n\r\n', error: /invalid header name/ },
  { name: 'a bare LF inside the head', wire: 'HTTP/1.1 200 OK\r\nX-A: a\nX-B: b\r\nContent-Length: 0\r\n\r\n', error: /bare CR or LF/ },
  { name: 'a bare CR inside the head', wire: 'HTTP/1.1 200 OK\r\nX-A: a\rX-B: b\r\nContent-Length: 0\r\n\r\n', error: /bare CR or LF/ },
  { name: 'a NUL in a value', wire: 'HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 0\r\n\r\n', error: /control byte/ },
  { name: 'a DEL in a value', wire: 'HTTP/1.1 200 OK\r\nX-A: a\x7fb\r\nContent-Length: 0\r\n\r\n', error: /control byte/ },
  { name: 'an escape byte in the reason phrase', wire: 'HTTP/1.1 200 O\x1bK\r\nContent-Length: 0\r\n\r\n', error: /control byte/ },
  { name: 'HTTP/2 status line', wire: 'HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n', error: /status line/ },
  { name: 'HTTP/1.2', wire: 'HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n', error: /status line/ },
  { name: 'a two-digit status', wire: 'HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n', error: /status line/ },
  { name: 'a status above 599', wire: 'HTTP/1.1 600 Odd\r\nContent-Length: 0\r\n\r\n', error: /status line/ },
  { name: 'no space after the status', wire: 'HTTP/1.1 200OK\r\nContent-Length: 0\r\n\r\n', error: /status line/ },
  { name: 'not HTTP', wire: 'ICY 200 OK\r\nContent-Length: 0\r\n\r\n', error: /status line/ },
  { name: '101 without an upgrade request', wire: 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n', error: /101/ },
  { name: 'a head over the size limit', wire: `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(MAX_HEAD)}\r\nContent-Length: 0\r\n\r\n`, error: /too large/ },
  { name: 'a chunk size that is not hex', wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', error: /chunk size line/ },
  { name: 'a negative chunk size', wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n', error: /chunk size line/ },
  { name: 'an empty chunk size', wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n', error: /chunk size line/ },
  { name: 'a chunk size too large', wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000\r\n', error: /chunk size line/ },
  { name: 'a malformed chunk extension', wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;=x\r\nhello\r\n0\r\n\r\n', error: /chunk size line/ },
  { name: 'chunk data longer than its size', wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n', error: /longer than its size/ },
  { name: 'a bare LF after a chunk size', wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n', error: /bare LF/ },
  { name: 'a malformed trailer field', wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nnot a field\r\n\r\n', error: /trailer/ },
  { name: 'a chunk size line over the limit', wire: `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;${'a'.repeat(5000)}\r\nhello\r\n0\r\n\r\n`, error: /too long/ },
  { name: 'EOF inside the head', wire: 'HTTP/1.1 200 OK\r\nContent-Le', eof: true, error: /closed the connection before the response ended/ },
  { name: 'EOF inside a Content-Length body', wire: `HTTP/1.1 200 OK\r\n${CL5}\r\nhel`, eof: true, error: /closed the connection before the response ended/ },
  { name: 'EOF inside a chunked body', wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n', eof: true, error: /closed the connection before the response ended/ },
  { name: 'EOF after the last chunk, before the end of the trailers', wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n', eof: true, error: /closed the connection before the response ended/ },
  { name: 'a head of bare LFs never ends: EOF is a truncated response', wire: 'HTTP/1.1 200 OK\nContent-Length: 0\n\n', eof: true, error: /closed the connection before the response ended/ },
]

describe('ResponseParser: valid responses (RFC 9112 §4-7)', () => {
  for (const row of VALID) {
    test(row.name, () => {
      const bytes = wire(row.wire)
      for (const pieces of feedings(bytes)) {
        const got = read(row.method ?? 'POST', pieces, row.eof === true)
        const where = `fed as ${pieces.map((p) => p.length).join('+')} bytes`
        assert.ok(got !== undefined, `no end of response, ${where}`)
        assert.equal(got.status, row.status, where)
        assert.equal(got.body, row.body, where)
        assert.equal(got.reusable, row.reusable, where)
        if (row.fields !== undefined) assert.deepEqual(got.fields, row.fields, where)
        if (row.keepAliveTimeout !== undefined) assert.equal(got.keepAliveTimeout, row.keepAliveTimeout, where)
        // A body that ends inside the read is flagged last (sent with the end); a close-delimited one cannot be.
        if (pieces.length === 1 && row.body !== '' && row.eof !== true && row.wire.includes('Content-Length')) {
          assert.ok(got.lastFlagged, 'the last piece of a Content-Length body is flagged last')
        }
      }
    })
  }
})

describe('ResponseParser: refused responses (502, connection not reused)', () => {
  for (const row of INVALID) {
    test(row.name, () => {
      for (const pieces of feedings(wire(row.wire))) {
        assert.throws(
          () => read('POST', pieces, row.eof === true),
          (error: unknown) => error instanceof ResponseHeadError && row.error.test(error.message),
          `fed as ${pieces.map((p) => p.length).join('+')} bytes`,
        )
      }
    })
  }
})

describe('ResponseParser: connection state', () => {
  test('bytes after the end of a response: the response stands, the connection is not reused', () => {
    const got = read('POST', [wire('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n')], false)
    assert.equal(got?.body, 'ok')
    assert.equal(got?.reusable, false)
  })

  test('bytes while no response is expected are refused', () => {
    const parser = new ResponseParser(MAX_HEAD)
    assert.throws(() => parser.execute(wire('HTTP/1.1 200 OK\r\n\r\n')), /outside any response/)
  })

  test('EOF between responses says nothing', () => {
    const parser = new ResponseParser(MAX_HEAD)
    parser.eof()
    const ends: boolean[] = []
    parser.begin('GET', { onHead() {}, onBody() {}, onEnd: (r) => ends.push(r) })
    parser.execute(wire('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'))
    parser.eof()
    assert.deepEqual(ends, [true])
  })

  test('one connection reads responses in turn', () => {
    const parser = new ResponseParser(MAX_HEAD)
    const bodies: string[] = []
    for (const [method, text] of [
      ['POST', 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none'],
      ['GET', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n'],
      ['DELETE', 'HTTP/1.1 204 No Content\r\n\r\n'],
      ['POST', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nthree'],
    ] as const) {
      let body = ''
      let ended = false
      parser.begin(method, {
        onHead() {},
        onBody: (chunk) => {
          body += chunk.toString()
        },
        onEnd: (reusable) => {
          assert.equal(reusable, true)
          ended = true
        },
      })
      parser.execute(wire(text))
      assert.ok(ended, text)
      bodies.push(body)
    }
    assert.deepEqual(bodies, ['one', 'two', '', 'three'])
  })

  test('chunk data is handed on as it arrives, not held for the end of the chunk or body', () => {
    const parser = new ResponseParser(MAX_HEAD)
    const pieces: string[] = []
    parser.begin('POST', { onHead() {}, onBody: (chunk) => pieces.push(chunk.toString()), onEnd() {} })
    parser.execute(wire('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n'))
    const event = (n: number) => `event: message\ndata: {"n":${n}}\n\n`
    const chunk = (text: string) => `${text.length.toString(16)}\r\n${text}\r\n`
    parser.execute(wire(chunk(event(1))))
    assert.deepEqual(pieces, [event(1)])
    parser.execute(wire(chunk(event(2)) + chunk(event(3)).slice(0, 14)))
    assert.deepEqual(pieces.slice(1), [event(2), 'event: mes'])
  })

  test('a refused head never reaches onHead', () => {
    const parser = new ResponseParser(MAX_HEAD)
    let heads = 0
    parser.begin('POST', { onHead: () => heads++, onBody() {}, onEnd() {} })
    assert.throws(() => parser.execute(wire(`HTTP/1.1 200 OK\r\n${CL5}Transfer-Encoding: chunked\r\n\r\n`)), ResponseHeadError)
    assert.equal(heads, 0)
  })
})
