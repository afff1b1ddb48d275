import type { IncomingMessage, ServerResponse } from 'node:http'
import { connect } from 'node:net'
import type { Duplex, Writable } from 'node:stream'
import { Pool, type Dispatcher } from 'undici'
import { UpstreamError } from '../errors.js'
import { events } from '../observability/events.js'
import { downstreamRawHeaders, upstreamRequestHeaders } from './headers.js'

export interface BackendOptions {
  origin: string
  basePath: string
  /** The protected path prefix; replaced by `basePath` when the backend URL has a path. */
  resourcePath: string
  connectTimeout: number
  headersTimeout: number
  bodyTimeout: number
  connections: number
}

/** Decides, once headers arrive, whether the response body must be rewritten (list filtering). */
export type ResponseRewriter = (statusCode: number, contentType: string | undefined) => Duplex | undefined

export interface ForwardResult {
  status: number
  upstreamMs: number
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT'])

/**
 * Streams a request to the backend over a keep-alive pool and the answer back, without buffering
 * either direction (SSE events reach the client as the backend writes them). A client that goes
 * away aborts the upstream request (MCP 2026-07-28: a closed stream is a cancellation).
 *
 * The request goes straight to `pool.dispatch` with the handler below rather than through
 * `pool.stream`: that wrapper costs, per request, an AsyncResource, an AbortController wired
 * through EventTarget listeners, a parsed header object and a `stream.finished` on the response.
 * Measured with `npm run bench -- --baseline`: about a fifth of the gateway's CPU per request
 * (bench/README.md). One `close` listener does the same work here.
 */
export function createForwarder(options: BackendOptions) {
  const pool = new Pool(options.origin, {
    connections: options.connections,
    connectTimeout: options.connectTimeout,
    headersTimeout: options.headersTimeout,
    bodyTimeout: options.bodyTimeout,
    pipelining: 1,
  })
  const upstreamPath = (url: string): string => {
    if (options.basePath === '') return url
    const rest = url.startsWith(options.resourcePath) ? url.slice(options.resourcePath.length) : url
    return `${options.basePath}${rest}`
  }

  function forward(
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer | undefined,
    rewrite?: ResponseRewriter,
  ): Promise<ForwardResult> {
    const headers = upstreamRequestHeaders(req.headers, {
      remoteAddress: req.socket.remoteAddress,
      proto: (req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http',
      host: req.headers.host,
    })
    // A response that may be rewritten (list filtering) must arrive as plain bytes: a gzip body
    // cannot be parsed, and passing it through unfiltered would show what the caller may not see.
    if (rewrite !== undefined) delete headers['accept-encoding']
    return new Promise<ForwardResult>((resolve, reject) => {
      const handler = new ForwardHandler(res, rewrite, resolve, reject)
      pool.dispatch(
        { path: upstreamPath(req.url ?? '/'), method: req.method as Dispatcher.HttpMethod, headers, body: body ?? null },
        handler,
      )
    })
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

/**
 * undici's dispatch handler (the callback interface its Pool drives) for one forwarded request:
 * response headers are filtered straight from undici's raw header list, the body is written to
 * the client (or through the rewriter) with backpressure (`false` pauses the upstream socket
 * until `drain`), and a client that goes away aborts the upstream request.
 */
class ForwardHandler implements Dispatcher.DispatchHandler {
  readonly #res: ServerResponse
  readonly #rewrite: ResponseRewriter | undefined
  readonly #resolve: (result: ForwardResult) => void
  readonly #reject: (error: unknown) => void
  readonly #started = performance.now()
  #abort: ((reason?: Error) => void) | undefined
  #sink: Writable | undefined
  #resume: (() => void) | undefined
  #status = 0
  /** Response headers set on `res` but not yet written (a rewritten JSON body, see `drainInto`). */
  #staged = false
  #clientGone = false
  #settled = false

  constructor(
    res: ServerResponse,
    rewrite: ResponseRewriter | undefined,
    resolve: (result: ForwardResult) => void,
    reject: (error: unknown) => void,
  ) {
    this.#res = res
    this.#rewrite = rewrite
    this.#resolve = resolve
    this.#reject = reject
    res.once('close', this.#onClientClose)
  }

  readonly #onClientClose = () => {
    if (this.#res.writableFinished) return
    this.#clientGone = true
    this.#abort?.(new Error('the client closed the connection'))
  }

  readonly #onDrain = () => this.#resume?.()

  onConnect(abort: (reason?: Error) => void): void {
    if (this.#clientGone) abort(new Error('the client closed the connection'))
    else this.#abort = abort
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true // 1xx: informational, not forwarded
    this.#status = statusCode
    this.#resume = resume
    const res = this.#res
    const upstream = downstreamRawHeaders(rawHeaders)
    const transform = this.#rewrite?.(statusCode, upstream.contentType)
    if (transform !== undefined && upstream.encoded) {
      // Encoded although not asked to: fail closed (502) rather than forward it unfiltered.
      transform.destroy()
      throw new Error('the backend encoded a response that must be filtered')
    }
    if (transform !== undefined) delete upstream.headers['content-length']
    const streaming = upstream.contentType?.startsWith('text/event-stream') === true
    if (transform !== undefined && !streaming) {
      // A rewritten JSON body: headers are staged, not written, so that `res.end(body)` can send
      // them with a Content-Length and the body in one write (a pipe would write the body chunked,
      // then the terminating chunk in a second write on the next tick).
      res.statusCode = statusCode
      for (const name in upstream.headers) res.setHeader(name, upstream.headers[name] as string | string[])
      this.#staged = true
      this.#sink = transform
      drainInto(transform, res, (error) => this.#abort?.(error))
      return true
    }
    res.writeHead(statusCode, upstream.headers)
    if (streaming) {
      // Headers go out now: a client waits for them before the first event arrives.
      res.flushHeaders()
      trackStream(res)
    }
    if (transform === undefined) {
      this.#sink = res
    } else {
      transform.once('error', (error) => {
        res.destroy(error)
        this.#abort?.(error)
      })
      transform.pipe(res)
      this.#sink = transform
    }
    return true
  }

  onData(chunk: Buffer): boolean {
    const sink = this.#sink
    if (sink === undefined || sink.write(chunk)) return true
    // Backpressure: undici pauses the backend socket until the client side drains.
    sink.once('drain', this.#onDrain)
    return false
  }

  onComplete(): void {
    this.#sink?.end()
    this.#finish()
  }

  onError(error: Error): void {
    if (this.#sink !== undefined && this.#sink !== this.#res) this.#sink.destroy()
    if (this.#res.headersSent || this.#staged) {
      this.#res.destroy()
      this.#finish()
      return
    }
    if (this.#clientGone) {
      this.#status = 499
      this.#finish()
      return
    }
    this.#cleanup()
    if (this.#settled) return
    this.#settled = true
    const code = (error as { code?: string }).code
    this.#reject(
      new UpstreamError(code !== undefined && TIMEOUT_CODES.has(code) ? 'upstream_timeout' : 'upstream_unreachable', error),
    )
  }

  #finish(): void {
    this.#cleanup()
    if (this.#settled) return
    this.#settled = true
    this.#resolve({ status: this.#status, upstreamMs: performance.now() - this.#started })
  }

  #cleanup(): void {
    this.#res.off('close', this.#onClientClose)
    this.#sink?.off('drain', this.#onDrain)
  }
}

/**
 * Moves a rewriter's output to the response, holding back the latest chunk so that the last one
 * goes out as `res.end(chunk)`: for a body rewritten in one piece, Node then writes status line,
 * headers with Content-Length, and body at once. Backpressure: the rewriter pauses while the
 * client's socket drains.
 */
function drainInto(source: Duplex, res: ServerResponse, onError: (error: Error) => void): void {
  let held: Buffer | undefined
  source.on('data', (chunk: Buffer) => {
    const previous = held
    held = chunk
    if (previous !== undefined && !res.write(previous)) {
      source.pause()
      res.once('drain', () => source.resume())
    }
  })
  source.once('end', () => {
    const last = held
    held = undefined
    if (last === undefined) res.end()
    else res.end(last)
  })
  source.once('error', (error) => {
    res.destroy(error)
    onError(error)
  })
}

function trackStream(res: ServerResponse): void {
  if (!events.stream.hasSubscribers) return
  events.stream.publish({ open: true })
  res.once('close', () => events.stream.publish({ open: false }))
}
