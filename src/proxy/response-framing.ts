import { ResponseHeadError, type ResponseHead } from './response-head.js'

/**
 * Where a response's body ends (RFC 9112 §6.3) and whether the connection may carry another
 * request afterwards (RFC 9112 §9.3). Ambiguous framing is refused rather than resolved: the
 * gateway answers 502 and the connection is not reused, so nothing the backend sent after an
 * ambiguous message can be read as the next response.
 */
export type BodyFraming =
  | { readonly kind: 'none' }
  | { readonly kind: 'length'; readonly length: number }
  | { readonly kind: 'chunked' }
  /** Read until the backend closes the connection (§6.3 item 8). */
  | { readonly kind: 'close' }

export interface ResponseFraming {
  readonly body: BodyFraming
  /** Whether the connection may be reused after this response (given its body ends cleanly). */
  readonly keepAlive: boolean
  /** The backend's `Keep-Alive: timeout=` hint in milliseconds, if it sent one. */
  readonly keepAliveTimeout: number | undefined
}

const NO_BODY: BodyFraming = { kind: 'none' }
const CHUNKED: BodyFraming = { kind: 'chunked' }
const UNTIL_CLOSE: BodyFraming = { kind: 'close' }
// 2^53 - 1 has 16 digits: anything longer cannot be a length this process could hold anyway.
const MAX_LENGTH_DIGITS = 15
const DIGITS = /^\d+$/
const KEEP_ALIVE_TIMEOUT = /(?:^|[,;\s])timeout\s*=\s*(\d{1,9})(?:$|[,;\s])/i

/** The framing of a final (status >= 200) response to a request made with `method`. */
export function responseFraming(head: ResponseHead, method: string): ResponseFraming {
  let contentLength: string | undefined
  let transferEncoding: string | undefined
  let connection: string | undefined
  let keepAliveHint: string | undefined
  const fields = head.fields
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i] as string
    const value = fields[i + 1] as string
    if (name === 'content-length') contentLength = contentLength === undefined ? value : `${contentLength},${value}`
    else if (name === 'transfer-encoding') transferEncoding = transferEncoding === undefined ? value : `${transferEncoding},${value}`
    else if (name === 'connection') connection = connection === undefined ? value : `${connection},${value}`
    else if (name === 'keep-alive') keepAliveHint = keepAliveHint === undefined ? value : `${keepAliveHint},${value}`
  }

  // §9.3: HTTP/1.1 persists unless `close` is named; HTTP/1.0 only if `keep-alive` is.
  const tokens = connectionOptions(connection)
  let keepAlive = head.minor === 1 ? !tokens.includes('close') : tokens.includes('keep-alive')
  const timeout = keepAliveHint === undefined ? undefined : KEEP_ALIVE_TIMEOUT.exec(keepAliveHint)?.[1]
  const keepAliveTimeout = timeout === undefined ? undefined : Number(timeout) * 1000

  // §6.3 item 6: both present is a smuggling attempt or a broken intermediary; refused here (the
  // section allows that), never resolved by preferring one.
  if (contentLength !== undefined && transferEncoding !== undefined) {
    throw new ResponseHeadError('both Content-Length and Transfer-Encoding in a response')
  }
  const length = contentLength === undefined ? undefined : parseContentLength(contentLength)
  if (transferEncoding !== undefined) {
    // §6.1: chunked must be the final coding and is applied once; any other transfer coding would
    // leave a body this gateway forwards without the coding named, so only `chunked` is accepted.
    // HTTP/1.0 has no transfer codings at all (§6.1: "MUST NOT send ... to a client ... 1.0").
    if (transferEncoding.trim().toLowerCase() !== 'chunked' || head.minor === 0) {
      throw new ResponseHeadError(`an unsupported Transfer-Encoding in a response`)
    }
  }

  // §6.3 item 1: responses to HEAD, 1xx, 204 and 304 end with their head, whatever they declare.
  const status = head.status
  if (method === 'HEAD' || status === 204 || status === 304 || status < 200) {
    return { body: NO_BODY, keepAlive, keepAliveTimeout }
  }
  if (transferEncoding !== undefined) return { body: CHUNKED, keepAlive, keepAliveTimeout }
  if (length !== undefined) return { body: length === 0 ? NO_BODY : { kind: 'length', length }, keepAlive, keepAliveTimeout }
  keepAlive = false
  return { body: UNTIL_CLOSE, keepAlive, keepAliveTimeout }
}

/** The `Connection` options, lowercase (RFC 9110 §7.6.1); the usual single values without a split. */
function connectionOptions(value: string | undefined): readonly string[] {
  if (value === undefined) return NONE
  if (value === 'keep-alive' || value === 'Keep-Alive') return KEEP_ALIVE
  if (value === 'close' || value === 'Close') return CLOSE
  return value.toLowerCase().split(',').map((t) => t.trim())
}

const NONE: readonly string[] = []
const KEEP_ALIVE: readonly string[] = ['keep-alive']
const CLOSE: readonly string[] = ['close']

/**
 * RFC 9110 §8.6: `Content-Length = 1*DIGIT`. A list of identical values (repeated fields, or one
 * field with commas) MAY be accepted as that value; different values are refused (RFC 9112 §6.3
 * item 5).
 */
function parseContentLength(value: string): number {
  // The usual single value: no list to split.
  if (value.length <= MAX_LENGTH_DIGITS && DIGITS.test(value)) return Number(value)
  let length: number | undefined
  for (const part of value.split(',')) {
    const digits = part.trim()
    if (!DIGITS.test(digits) || digits.length > MAX_LENGTH_DIGITS) throw new ResponseHeadError('an invalid Content-Length in a response')
    const n = Number(digits)
    if (length !== undefined && n !== length) throw new ResponseHeadError('conflicting Content-Length values in a response')
    length = n
  }
  return length as number
}
