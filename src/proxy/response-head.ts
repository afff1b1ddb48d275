/**
 * The head of an HTTP/1.1 response (RFC 9112 §4, §5): status line and header fields, parsed from
 * the bytes the backend sent, strictly. Anything a lenient parser would have to guess about
 * (obs-fold, bare CR or LF, control bytes, whitespace before the colon) is refused: behind a
 * gateway, two parsers that disagree on where a message ends are a smuggling channel, and a 502
 * costs nothing when the backend is well-behaved.
 */

export interface ResponseHead {
  /** HTTP/1.0 or HTTP/1.1 (minor version). */
  readonly minor: 0 | 1
  readonly status: number
  /** Field names lowercased, values as sent (latin1, OWS trimmed): name, value, name, value ... */
  readonly fields: readonly string[]
}

export class ResponseHeadError extends Error {
  override readonly name = 'ResponseHeadError'
}

// RFC 9110 §5.6.2: field-name = token.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
// RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ]. A missing final SP
// (no reason phrase at all) is common enough to accept; nothing else varies.
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-5]\d\d)(?: |$)/
// Bytes allowed anywhere in a head besides CRLF: HTAB, SP, VCHAR, obs-text (RFC 9110 §5.5).
const FORBIDDEN_BYTE = /[^\t\r\n\x20-\x7e\x80-\xff]/
// RFC 9112 §2.2: a bare CR is refused; a bare LF MAY be accepted, but accepting it would make this
// parser disagree with a stricter one about where the head ends.
const BARE_CR_OR_LF = /\r(?!\n)|(?<!\r)\n/

/**
 * Parses `text` (the head without its final empty line, decoded latin1 so each byte is one char).
 * Throws ResponseHeadError on anything malformed.
 */
export function parseResponseHead(text: string): ResponseHead {
  if (FORBIDDEN_BYTE.test(text)) throw new ResponseHeadError('a control byte in the response head')
  if (BARE_CR_OR_LF.test(text)) throw new ResponseHeadError('a bare CR or LF in the response head')
  let end = text.indexOf('\r\n')
  if (end === -1) end = text.length
  const statusLine = STATUS_LINE.exec(text.slice(0, end))
  if (statusLine === null) throw new ResponseHeadError('an invalid status line')
  const fields: string[] = []
  let start = end + 2
  while (start < text.length) {
    end = text.indexOf('\r\n', start)
    if (end === -1) end = text.length
    const first = text.charCodeAt(start)
    // RFC 9112 §5.2: obs-fold; a gateway may refuse it with a 502 (and a field line cannot start
    // with whitespace otherwise, §2.2).
    if (first === 0x20 || first === 0x09) throw new ResponseHeadError('obsolete line folding in the response head')
    const colon = text.indexOf(':', start)
    if (colon === -1 || colon > end) throw new ResponseHeadError('a header line without a colon')
    const name = text.slice(start, colon)
    // RFC 9112 §5.1: no whitespace between the name and the colon.
    if (!TOKEN.test(name)) throw new ResponseHeadError('an invalid header name')
    fields.push(name.toLowerCase(), trimOws(text, colon + 1, end))
    start = end + 2
  }
  return { minor: statusLine[1] === '0' ? 0 : 1, status: Number(statusLine[2]), fields }
}

/** The field value between `start` and `end` without leading and trailing SP/HTAB (RFC 9112 §5.1). */
function trimOws(text: string, start: number, end: number): string {
  while (start < end && isOws(text.charCodeAt(start))) start++
  while (end > start && isOws(text.charCodeAt(end - 1))) end--
  return text.slice(start, end)
}

function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09
}
