import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import { connect } from 'node:net'
import { once } from 'node:events'
import { isTooLarge, readRequestBody } from '../../../src/server/read-body.js'

// readRequestBody against node's own parser: raw bytes written to a socket, so the test decides
// whether the body comes with the head or later, whole or chunked.

interface Seen {
  body?: string
  error?: unknown
  /** Whether the stream was switched to flowing mode (the listener path) to read it. */
  flowing: boolean | null
}

describe('readRequestBody', () => {
  let server: Server
  let port: number
  const seen: Seen[] = []
  const LIMIT = 100_000

  before(async () => {
    server = createServer((req: IncomingMessage, res) => {
      // As the pipeline does: called while node is still parsing the read that held the head.
      readRequestBody(req, LIMIT).then(
        (body) => {
          seen.push({ body: body.toString('utf8'), flowing: req.readableFlowing })
          res.end('ok')
        },
        (error: unknown) => {
          seen.push({ error, flowing: req.readableFlowing })
          res.writeHead(isTooLarge(error) ? 413 : 400, { connection: 'close' })
          res.end()
        },
      )
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    port = (server.address() as { port: number }).port
  })
  after(() => server.close())

  /** Writes `parts` to a fresh connection (with a pause between them) and waits for the answer. */
  async function exchange(...parts: string[]): Promise<Seen> {
    const before = seen.length
    const socket = connect(port, '127.0.0.1')
    await once(socket, 'connect')
    for (const [i, part] of parts.entries()) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 30))
      socket.write(part)
    }
    socket.resume()
    while (seen.length === before) await new Promise((resolve) => setTimeout(resolve, 5))
    socket.destroy()
    return seen[before] as Seen
  }

  const head = (length: number) => `POST /mcp HTTP/1.1\r\nhost: x\r\ncontent-length: ${length}\r\n\r\n`

  test('a body that came with its head is taken from the buffer at once (no flowing mode)', async () => {
    const body = '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'
    assert.deepEqual(await exchange(head(body.length) + body), { body, flowing: null })
  })

  test('Content-Length: 0 is an empty body', async () => {
    assert.deepEqual(await exchange(head(0)), { body: '', flowing: null })
  })

  test('a body that arrives after its head, in pieces, is read whole', async () => {
    const got = await exchange(head(10), '01234', '56789')
    assert.equal(got.body, '0123456789')
  })

  test('a body larger than the stream buffer is read whole', async () => {
    const body = 'x'.repeat(90_000)
    assert.equal((await exchange(head(body.length) + body)).body, body)
  })

  test('a chunked body is read whole', async () => {
    const got = await exchange('POST /mcp HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n', '2\r\nde\r\n0\r\n\r\n')
    assert.equal(got.body, 'abcde')
  })

  test('a Content-Length over the limit is refused before reading', async () => {
    const got = await exchange(head(LIMIT + 1))
    assert.ok(isTooLarge(got.error))
  })

  test('a chunked body over the limit is refused while reading', async () => {
    const chunk = 'y'.repeat(60_000)
    const hex = chunk.length.toString(16)
    const got = await exchange(`POST /mcp HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n${hex}\r\n${chunk}\r\n${hex}\r\n${chunk}\r\n0\r\n\r\n`)
    assert.ok(isTooLarge(got.error))
  })
})
