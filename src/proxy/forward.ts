import type { IncomingMessage, ServerResponse } from 'node:http'
import { connect } from 'node:net'
import type { Duplex, Writable } from 'node:stream'
import { UpstreamError } from '../errors.js'
import type { IdentityHeaders } from './headers.js'
import { events, type NoticeEvent } from '../observability/events.js'
import { downstreamHeaders, indexOfName, neverUpstream, upstreamRequestHeaders, withoutNames, type HeaderList } from './headers.js'
import { requestBytes } from './request-bytes.js'
import type { ResponseHead } from './response-head.js'
import type { UpstreamConnection } from './upstream-connection.js'
import { UpstreamFailure, type UpstreamExchange } from './upstream-exchange.js'
import { UpstreamPool } from './upstream-pool.js'

export interface BackendOptions {
  origin: string
  basePath: string
  /** The protected path prefix; replaced by `basePath` when the backend URL has a path. */
  resourcePath: string
  connectTimeout: number
  headersTimeout: number
  bodyTimeout: number
  connections: number
  /** Whether `Cookie` goes to the backend and its `Set-Cookie` to the client (default: neither). */
  forwardCookies: boolean
  /** Further request headers that never reach the backend (the trusted client-certificate header). */
  neverUpstream?: readonly string[]
  /**
   * Rewrites a backend's own `WWW-Authenticate` step-up challenge on a 403 for the client (its
   * `resource_metadata` must be the gateway's); with it set, any other challenge of a backend 401 or
   * 403 is dropped. `undefined` leaves the header as the backend sent it.
   */
  relayChallenge?: (values: string | readonly string[]) => string | undefined
}

/**
 * How a response body is rewritten (list filtering): a JSON document is held whole, rewritten, and
 * sent with its Content-Length; an event stream goes through a `Duplex` as it arrives.
 */
export type BodyRewrite =
  | { readonly kind: 'whole'; readonly maxBytes: number; rewrite(body: Buffer): Buffer }
  | { readonly kind: 'stream'; readonly stream: Duplex }

/** Decides, once headers arrive, whether the response body must be rewritten. */
export type ResponseRewriter = (statusCode: number, contentType: string | undefined) => BodyRewrite | undefined

/**
 * How a forwarded response ended when not as the backend meant it to: it broke off after its
 * headers went out (`upstream_reset`; `upstream_timeout` for a silence beyond `bodyTimeout`), or it
 * was the backend's own step-up refusal, relayed (`upstream_insufficient_scope`).
 */
export type ForwardOutcome = 'upstream_reset' | 'upstream_timeout' | 'upstream_insufficient_scope'

/** The pipeline's side of one forwarded request: who hears how it ended. */
export interface ForwardListener {
  /** Sent to the client as `X-Request-Id` unless the backend's response names its own. */
  readonly id: string
  /**
   * The backend's answer is whole and its last bytes are ready: whatever must be recorded before
   * the client holds the answer (the audit trail) happens here, and `answer` sends those bytes,
   * at once or once the record is out.
   */
  completing(status: number, outcome: ForwardOutcome | undefined, answer: () => void): void
  /**
   * The response went to the client (whole, or as far as the client stayed): the backend's time,
   * and `outcome` when it did not end as an ordinary answer.
   */
  forwarded(upstreamMs: number, outcome?: ForwardOutcome): void
  /** Nothing reached the client; the pipeline answers with `error` (502, 504). Called at most once, instead of `forwarded`. */
  failed(error: UpstreamError): void
  /** The response is an event stream (its headers are out): the pipeline may end it with `endStream`. */
  streaming?(): void
}

/** A request on its way: the pipeline says when the client's response closed. */
export interface Forwarding {
  /** The response closed: unless it was finished, the client went away and the backend request is aborted. */
  clientClosed(): void
  /**
   * Ends an event stream cleanly (the chunked body's last chunk, so the client sees an ordinary end
   * and reconnects) and aborts the backend request: the token that opened it expired or was revoked.
   */
  endStream(): void
}

/**
 * Streams a request to the backend over keep-alive connections and the answer back, without
 * buffering the response (SSE events reach the client as the backend writes them). A client that
 * goes away aborts the upstream request (MCP 2026-07-28: a closed stream is a cancellation).
 *
 * The backend is reached through the gateway's own HTTP/1.1 client (`upstream-pool.ts`), written
 * for this one job: the request (already read whole by the pipeline) goes out as one buffer, the
 * response head is parsed once into the list the client's headers are made from, and timeouts are
 * deadlines checked by one timer. undici's Pool did the same work with more layers per request
 * (bench/README.md has the before/after).
 */
export function createForwarder(options: BackendOptions) {
  const pool = new UpstreamPool(options)
  const host = new URL(options.origin).host
  const never = neverUpstream(options.forwardCookies, options.neverUpstream)
  const notices = createRefusalNotices()
  const upstreamPath = (url: string): string => {
    if (options.basePath === '') return url
    const rest = url.startsWith(options.resourcePath) ? url.slice(options.resourcePath.length) : url
    return `${options.basePath}${rest}`
  }

  function forward(
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer | undefined,
    rewrite: ResponseRewriter | undefined,
    listener: ForwardListener,
    identity?: IdentityHeaders,
  ): Forwarding {
    // A response that may be rewritten (list filtering) must arrive as plain bytes: a gzip body
    // cannot be parsed, and passing it through unfiltered would show what the caller may not see.
    const headers = upstreamRequestHeaders(
      req.headers,
      {
        remoteAddress: req.socket.remoteAddress,
        proto: (req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http',
        host: req.headers.host,
      },
      rewrite !== undefined,
      never,
      identity,
    )
    const method = req.method ?? 'GET'
    const bytes = requestBytes(method, upstreamPath(req.url ?? '/'), host, headers, body)
    const exchange = new ForwardExchange(pool, notices, method, bytes, res, rewrite, listener, options.forwardCookies, options.relayChallenge)
    pool.request(exchange)
    return exchange
  }

  /** Whether a TCP connection to the backend opens (for `/readyz`). */
  function reachable(timeoutMs = 1000): Promise<boolean> {
    const url = new URL(options.origin)
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80))
    return new Promise((resolve) => {
      const socket = connect({ host: url.hostname.replace(/^\[|\]$/g, ''), port, timeout: timeoutMs })
      const done = (ok: boolean) => {
        socket.destroy()
        resolve(ok)
      }
      socket.once('connect', () => done(true))
      socket.once('timeout', () => done(false))
      socket.once('error', () => done(false))
    })
  }

  return { forward, reachable, close: () => pool.close() }
}

export type Forwarder = ReturnType<typeof createForwarder>

const TIMEOUTS = new Set(['connect_timeout', 'headers_timeout'])
const NOTICE_INTERVAL_MS = 10_000

/**
 * A response refused for its framing or bytes is a 502 the operator cannot explain from the access
 * line: a `warn` notice names the reason (fixed texts, never the backend's bytes), at most one
 * every 10 s so that a broken backend does not flood the log.
 */
function createRefusalNotices(): (error: UpstreamFailure) => void {
  let last = -Infinity
  return (error) => {
    const now = performance.now()
    if (now - last < NOTICE_INTERVAL_MS || !events.notice.hasSubscribers) return
    last = now
    events.notice.publish({ level: 'warn', message: error.message } satisfies NoticeEvent)
  }
}

/**
 * One forwarded request: response headers are filtered from the parsed field list, the body is
 * written to the client (or through the rewriter) with backpressure (a full client socket pauses
 * the backend connection until `drain`), and a client that goes away aborts the upstream request
 * (its connection is closed, never reused). It adds no listener of its own to the response: the
 * pipeline's one 'close' listener calls `clientClosed`.
 */
class ForwardExchange implements UpstreamExchange, Forwarding {
  readonly method: string
  readonly bytes: Buffer
  connection: UpstreamConnection | undefined
  readonly #pool: UpstreamPool
  readonly #notice: (error: UpstreamFailure) => void
  readonly #res: ServerResponse
  readonly #rewrite: ResponseRewriter | undefined
  readonly #listener: ForwardListener
  readonly #forwardCookies: boolean
  readonly #relayChallenge: BackendOptions['relayChallenge']
  readonly #started = performance.now()
  #outcome: ForwardOutcome | undefined
  #sink: Writable | undefined
  /** A JSON body rewritten whole: held until the backend's response ends. */
  #held: HeldBody | undefined
  #ended = false
  #waitingDrain = false
  #clientGone = false
  #settled = false
  /** Ended by `endStream`: the abort that follows is not a failure. */
  #streamEnded = false

  constructor(
    pool: UpstreamPool,
    notice: (error: UpstreamFailure) => void,
    method: string,
    bytes: Buffer,
    res: ServerResponse,
    rewrite: ResponseRewriter | undefined,
    listener: ForwardListener,
    forwardCookies: boolean,
    relayChallenge: BackendOptions['relayChallenge'],
  ) {
    this.#forwardCookies = forwardCookies
    this.#pool = pool
    this.#relayChallenge = relayChallenge
    this.#notice = notice
    this.method = method
    this.bytes = bytes
    this.#res = res
    this.#rewrite = rewrite
    this.#listener = listener
  }

  clientClosed(): void {
    if (this.#settled || this.#res.writableFinished) return
    this.#clientGone = true
    this.#abort(new Error('the client closed the connection'))
  }

  endStream(): void {
    if (this.#settled || this.#res.writableEnded) return
    this.#streamEnded = true
    const sink = this.#sink
    this.#sink = undefined
    sink?.end()
    this.#abort(new Error('the stream outlived its token'))
  }

  #drained(): void {
    this.#waitingDrain = false
    this.connection?.resume()
  }

  #abort(error: Error): void {
    if (this.connection !== undefined) this.connection.abort(error)
    else if (this.#pool.cancel(this)) this.onError(error)
  }

  onHead(head: ResponseHead): void {
    const statusCode = head.status
    const res = this.#res
    const upstream = downstreamHeaders(head.fields, this.#forwardCookies)
    const rewrite = this.#rewrite?.(statusCode, upstream.contentType)
    if (rewrite !== undefined && upstream.encoded) {
      // Encoded although not asked to: fail closed (502) rather than forward it unfiltered.
      if (rewrite.kind === 'stream') rewrite.stream.destroy()
      throw new UpstreamFailure('bad_response', 'bad response from the backend: an encoded body that must be filtered')
    }
    const headers = rewrite === undefined ? upstream.headers : withoutNames(upstream.headers, CONTENT_LENGTH)
    // The gateway's request id, as on its own answers (set here rather than with `setHeader`
    // before, which would make node merge every header in one by one); a backend's own one stands.
    if (indexOfName(headers, 'x-request-id') === -1) headers.push('x-request-id', this.#listener.id)
    if (statusCode === 401 || statusCode === 403) this.#relay(headers)
    if (rewrite?.kind === 'whole') {
      // Nothing goes to the client before the rewritten body exists: then status line, headers
      // with its Content-Length, and body in one write; a body that cannot be rewritten is a 502.
      this.#held = new HeldBody(statusCode, headers, rewrite)
      return
    }
    res.writeHead(statusCode, headers)
    if (upstream.contentType?.startsWith('text/event-stream') === true) {
      // Headers go out now: a client waits for them before the first event arrives.
      res.flushHeaders()
      trackStream(res)
      this.#listener.streaming?.()
    }
    if (rewrite === undefined) {
      this.#sink = res
    } else {
      const transform = rewrite.stream
      transform.once('error', (error) => {
        res.destroy(error)
        this.#abort(error)
      })
      transform.pipe(res)
      this.#sink = transform
    }
  }

  /** A backend's own insufficient_scope challenge, relayed as the gateway's one challenge line. */
  /**
   * A backend's own challenge (RFC 6750 §3) names the backend's metadata, and the client must only
   * ever be sent to the gateway's: an `insufficient_scope` 403 is relayed rewritten (step-up,
   * docs/errors.md `upstream_insufficient_scope`); any other challenge of a 401 or 403 is dropped, so the client's OAuth flow stays
   * with the gateway.
   */
  #relay(headers: HeaderList): void {
    if (this.#relayChallenge === undefined) return
    const values: string[] = []
    for (let i = headers.length - 2; i >= 0; i -= 2) {
      if (headers[i] !== 'www-authenticate') continue
      values.unshift(...[headers[i + 1] as string | string[]].flat())
      headers.splice(i, 2)
    }
    if (values.length === 0) return
    const relayed = this.#relayChallenge(values)
    if (relayed === undefined) return
    headers.push('www-authenticate', relayed)
    this.#outcome = 'upstream_insufficient_scope'
  }

  onBody(chunk: Buffer, last: boolean): void {
    if (this.#held !== undefined) return this.#held.add(chunk)
    const sink = this.#sink
    if (sink === undefined) return
    if (last) {
      // The whole (rest of the) body: head, body and end go to the client in one write.
      this.#ended = true
      this.#listener.completing(this.#res.statusCode, this.#outcome, () => sink.end(chunk))
      return
    }
    if (sink.write(chunk) || this.#waitingDrain) return
    // Backpressure: the backend connection is not read until the client side drains.
    this.#waitingDrain = true
    this.connection?.pause()
    sink.once('drain', () => this.#drained())
  }

  onEnd(): void {
    if (this.#held !== undefined) return this.#sendHeld(this.#held)
    const sink = this.#sink
    if (!this.#ended && sink !== undefined) this.#listener.completing(this.#res.statusCode, this.#outcome, () => sink.end())
    this.#finish()
  }

  #sendHeld(held: HeldBody): void {
    this.#held = undefined
    let body: Buffer
    try {
      body = held.rewritten()
    } catch (error) {
      // The backend's response was whole and well framed: the connection stays reusable.
      return this.onError(new UpstreamFailure('bad_response', `bad response from the backend: ${(error as Error).message}`))
    }
    held.headers.push('content-length', String(body.length))
    const res = this.#res
    this.#listener.completing(held.status, this.#outcome, () => res.writeHead(held.status, held.headers).end(body))
    this.#finish()
  }

  onError(error: Error): void {
    if (this.#streamEnded) return this.#finish()
    if (error instanceof UpstreamFailure && error.code === 'bad_response') this.#notice(error)
    this.#held = undefined
    if (this.#sink !== undefined && this.#sink !== this.#res) this.#sink.destroy()
    if (this.#res.headersSent) {
      this.#res.destroy()
      // Headers (and perhaps part of the body) went out, then the backend broke off: not an answer.
      if (!this.#clientGone) {
        this.#outcome = error instanceof UpstreamFailure && error.code === 'body_timeout' ? 'upstream_timeout' : 'upstream_reset'
      }
      this.#finish()
      return
    }
    if (this.#clientGone) {
      this.#finish()
      return
    }
    if (this.#settled) return
    this.#settled = true
    const code = error instanceof UpstreamFailure ? error.code : undefined
    this.#listener.failed(new UpstreamError(code !== undefined && TIMEOUTS.has(code) ? 'upstream_timeout' : 'upstream_unreachable', error))
  }

  #finish(): void {
    if (this.#settled) return
    this.#settled = true
    this.#listener.forwarded(performance.now() - this.#started, this.#outcome)
  }
}

const CONTENT_LENGTH: ReadonlySet<string> = new Set(['content-length'])

/** A response body held for a `whole` rewrite, up to the rewrite's `maxBytes` (beyond: a 502, fail closed). */
class HeldBody {
  readonly #chunks: Buffer[] = []
  #size = 0

  constructor(
    readonly status: number,
    readonly headers: HeaderList,
    readonly rewrite: Extract<BodyRewrite, { kind: 'whole' }>,
  ) {}

  add(chunk: Buffer): void {
    this.#size += chunk.length
    if (this.#size > this.rewrite.maxBytes) throw new UpstreamFailure('bad_response', 'bad response from the backend: a list too large to filter')
    this.#chunks.push(chunk)
  }

  rewritten(): Buffer {
    const chunks = this.#chunks
    return this.rewrite.rewrite(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, this.#size))
  }
}

function trackStream(res: ServerResponse): void {
  if (!events.stream.hasSubscribers) return
  events.stream.publish({ open: true })
  res.once('close', () => events.stream.publish({ open: false }))
}
