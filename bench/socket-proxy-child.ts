import { connect, createServer, type AddressInfo } from 'node:net'

/**
 * Calibration, not a product: the least a Node proxy can do per request, on raw sockets without
 * node:http. One backend connection per client connection; a request is forwarded once its
 * `Content-Length` body is in (parsed as JSON, `Authorization` dropped), a response once its
 * `Content-Length` body is in; anything else (chunked, no length) closes both sockets, and the
 * load generator counts the failure. It reads and writes what nginx's proxy reads and writes, so
 * the gap between this row and nginx is Node's, and the gap between this row and `node-proxy` is
 * node:http's (bench/README.md, "Floors").
 */
const backend = new URL(process.argv[2] as string)
const CONTENT_LENGTH = /\r\ncontent-length: *(\d+)/i
const AUTHORIZATION = /^authorization:/i

/** Calls `onMessage(head, body)` for each whole message in `buffer`; returns the unconsumed rest. */
function frames(buffer: Buffer, onMessage: (head: string, body: Buffer, whole: Buffer) => void): Buffer {
  let rest = buffer
  for (;;) {
    const end = rest.indexOf('\r\n\r\n')
    if (end < 0) return rest
    const head = rest.toString('latin1', 0, end)
    const length = CONTENT_LENGTH.exec(head)
    if (length === null) throw new Error('no Content-Length')
    const size = end + 4 + Number(length[1])
    if (rest.length < size) return rest
    onMessage(head, rest.subarray(end + 4, size), rest.subarray(0, size))
    rest = rest.subarray(size)
  }
}

const server = createServer((client) => {
  client.setNoDelay(true)
  const upstream = connect(Number(backend.port), backend.hostname)
  upstream.setNoDelay(true)
  let request: Buffer = Buffer.alloc(0)
  let response: Buffer = Buffer.alloc(0)
  const fail = () => {
    client.destroy()
    upstream.destroy()
  }
  client.on('data', (data: Buffer) => {
    try {
      request = frames(request.length === 0 ? data : Buffer.concat([request, data]), (head, body) => {
        JSON.parse(body.toString('utf8'))
        const kept = head.split('\r\n').filter((line) => !AUTHORIZATION.test(line))
        upstream.write(Buffer.concat([Buffer.from(`${kept.join('\r\n')}\r\n\r\n`, 'latin1'), body]))
      })
    } catch {
      fail()
    }
  })
  upstream.on('data', (data: Buffer) => {
    try {
      response = frames(response.length === 0 ? data : Buffer.concat([response, data]), (_head, _body, whole) => client.write(whole))
    } catch {
      fail()
    }
  })
  client.on('close', fail)
  upstream.on('close', fail)
  client.on('error', fail)
  upstream.on('error', fail)
})
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo
  process.stdout.write(`${JSON.stringify({ ready: true, url: `http://127.0.0.1:${port}` })}\n`)
})
process.once('SIGTERM', () => process.exit(0))
