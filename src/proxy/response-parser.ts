import { ChunkedBody } from './chunked-body.js'
import { responseFraming, type ResponseFraming } from './response-framing.js'
import { parseResponseHead, ResponseHeadError, type ResponseHead } from './response-head.js'

/** What a parser reports about the one response it reads. */
export interface ResponseSink {
  /** A final (>= 200) response head. Throwing refuses the response (the connection is dropped). */
  onHead(head: ResponseHead, framing: ResponseFraming): void
  /** A piece of body; `last` when the body ends with it (then `onEnd` follows at once). */
  onBody(chunk: Buffer, last: boolean): void
  /** The response is complete; `reusable` when the connection may carry another request. */
  onEnd(reusable: boolean): void
}

const CRLFCRLF = Buffer.from('\r\n\r\n')
const EMPTY = Buffer.alloc(0)

/**
 * Reads one HTTP/1.1 response at a time from a connection's bytes (RFC 9112): the head (1xx
 * interim responses skipped, §15.2 of RFC 9110), then the body as its framing says. One request is
 * in flight per connection (no pipelining), so any byte that arrives outside a response, or after
 * its end, means the connection cannot be trusted with another request.
 */
export class ResponseParser {
  readonly #maxHeadBytes: number
  #sink: ResponseSink | undefined
  #method = 'GET'
  #state: ParserState = 'idle'
  /** Head bytes received so far, when a head spans several reads. */
  #pending: Buffer | undefined
  #remaining = 0
  #chunked: ChunkedBody | undefined
  #keepAlive = false

  constructor(maxHeadBytes: number) {
    this.#maxHeadBytes = maxHeadBytes
  }

  /** Expects the response to a request made with `method`. */
  begin(method: string, sink: ResponseSink): void {
    this.#method = method
    this.#sink = sink
    this.#state = 'head'
  }

  /**
   * Consumes bytes read from the connection. Throws ResponseHeadError on a malformed response or on
   * bytes that arrive while no response is expected.
   */
  execute(data: Buffer): void {
    let pos = 0
    while (pos < data.length) {
      switch (this.#state) {
        case 'idle':
          throw new ResponseHeadError('bytes from the backend outside any response')
        case 'head':
          pos = this.#head(data, pos)
          if (pos === -1) return
          break
        case 'length': {
          const take = Math.min(this.#remaining, data.length - pos)
          const chunk = pos === 0 && take === data.length ? data : data.subarray(pos, pos + take)
          pos += take
          this.#remaining -= take
          if (this.#remaining > 0) {
            ;(this.#sink as ResponseSink).onBody(chunk, false)
            break
          }
          this.#end(chunk, pos === data.length)
          return
        }
        case 'chunked': {
          const end = (this.#chunked as ChunkedBody).feed(data, pos, this.#onChunk)
          if (end !== -1) this.#end(EMPTY, end === data.length)
          return
        }
        case 'close':
          ;(this.#sink as ResponseSink).onBody(pos === 0 ? data : data.subarray(pos), false)
          return
      }
    }
  }

  /**
   * The backend closed its side. Ends a close-delimited body; anywhere else inside a response it
   * is a truncated message (throws). Between responses it says nothing.
   */
  eof(): void {
    if (this.#state === 'close') this.#end(EMPTY, false)
    else if (this.#state !== 'idle') throw new ResponseHeadError('the backend closed the connection before the response ended')
  }

  readonly #onChunk = (chunk: Buffer): void => (this.#sink as ResponseSink).onBody(chunk, false)

  /**
   * Reads a head from `data` at `pos`; returns where the body (or the next head) starts, or -1
   * when the response ended with its head.
   */
  #head(data: Buffer, pos: number): number {
    let buffer = data
    let from = pos
    let searchFrom = pos
    const pending = this.#pending
    if (pending !== undefined) {
      // The CRLFCRLF may straddle the two reads: search from 3 bytes before the join.
      buffer = Buffer.concat([pending, pos === 0 ? data : data.subarray(pos)])
      from = 0
      searchFrom = Math.max(0, pending.length - 3)
    }
    const end = buffer.indexOf(CRLFCRLF, searchFrom)
    if (end === -1) {
      if (buffer.length - from > this.#maxHeadBytes) throw new ResponseHeadError('the response head is too large')
      this.#pending = from === 0 ? buffer : buffer.subarray(from)
      return data.length
    }
    if (end - from > this.#maxHeadBytes) throw new ResponseHeadError('the response head is too large')
    this.#pending = undefined
    // Where the head ends, in `data`'s offsets.
    const next = pending === undefined ? end + 4 : pos + end + 4 - pending.length
    const head = parseResponseHead(buffer.toString('latin1', from, end))
    if (head.status < 200) {
      // RFC 9110 §15.2: interim responses precede the final one; 101 needs an Upgrade, never sent.
      if (head.status === 101) throw new ResponseHeadError('101 Switching Protocols without an upgrade request')
      return next
    }
    const framing = responseFraming(head, this.#method)
    this.#keepAlive = framing.keepAlive
    ;(this.#sink as ResponseSink).onHead(head, framing)
    switch (framing.body.kind) {
      case 'none':
        this.#end(EMPTY, next === data.length)
        return -1
      case 'length':
        this.#remaining = framing.body.length
        this.#state = 'length'
        break
      case 'chunked':
        this.#chunked = new ChunkedBody(this.#maxHeadBytes)
        this.#state = 'chunked'
        break
      case 'close':
        this.#state = 'close'
        break
    }
    return next
  }

  /**
   * The response is complete. `clean`: it ended exactly where the bytes read so far end; bytes
   * beyond it were sent with no request to answer, so the connection is not reused.
   */
  #end(last: Buffer, clean: boolean): void {
    const sink = this.#sink as ResponseSink
    this.#state = 'idle'
    this.#sink = undefined
    this.#chunked = undefined
    if (last.length > 0) sink.onBody(last, true)
    sink.onEnd(this.#keepAlive && clean)
  }
}

type ParserState = 'idle' | 'head' | 'length' | 'chunked' | 'close'
