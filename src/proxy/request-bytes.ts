/**
 * A request to the backend as bytes (RFC 9112 §3, §5): request line, `Host`, the given header
 * fields, `Content-Length` when there is a body, and the body, in one buffer so that it goes out in
 * one write. Header values come from node's own (strict) parser or from the gateway; they are
 * still checked for CR, LF and NUL, which would let one field become two.
 */
export function requestBytes(
  method: string,
  path: string,
  host: string,
  headers: Readonly<Record<string, string | string[]>>,
  body: Buffer | undefined,
): Buffer {
  if (UNSAFE_TARGET.test(path)) throw new TypeError('invalid request target')
  // RFC 9112 §9.3: persistence is HTTP/1.1's default; said anyway, as undici (which this replaced)
  // did, so that an HTTP/1.0 hop in between keeps the connection too.
  let head = `${method} ${path} HTTP/1.1\r\nhost: ${host}\r\nconnection: keep-alive\r\n`
  for (const name in headers) {
    const value = headers[name] as string | string[]
    if (typeof value === 'string') {
      head += field(name, value)
    } else {
      for (const one of value) head += field(name, one)
    }
  }
  // RFC 9110 §8.6: a POST without a body still says so (0), as node and undici do.
  if (body !== undefined) head += `content-length: ${body.length}\r\n\r\n`
  else head += method === 'POST' ? 'content-length: 0\r\n\r\n' : '\r\n'
  // latin1: header values are node's latin1 decoding of the client's bytes; this restores them.
  const headLength = head.length
  if (body === undefined || body.length === 0) return Buffer.from(head, 'latin1')
  const bytes = Buffer.allocUnsafe(headLength + body.length)
  bytes.write(head, 0, headLength, 'latin1')
  body.copy(bytes, headLength)
  return bytes
}

function field(name: string, value: string): string {
  if (UNSAFE_VALUE.test(value)) throw new TypeError(`invalid value for header ${name}`)
  return `${name}: ${value}\r\n`
}

const UNSAFE_VALUE = /[\0\r\n]/
// RFC 9112 §3.2: the request target has no whitespace or control bytes.
const UNSAFE_TARGET = /[\x00-\x20\x7f]/
