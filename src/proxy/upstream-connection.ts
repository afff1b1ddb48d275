import type { Socket } from 'node:net'
import type { ResponseFraming } from './response-framing.js'
import { ResponseHeadError, type ResponseHead } from './response-head.js'
import { ResponseParser, type ResponseSink } from './response-parser.js'
import { UpstreamFailure, type UpstreamExchange } from './upstream-exchange.js'

/** What a connection needs from its pool. */
export interface ConnectionOwner {
  readonly headersTimeout: number
  readonly bodyTimeout: number
  /** The exchange ended and the connection may carry another (`reusable`), or must be closed. */
  released(connection: UpstreamConnection, reusable: boolean, keepAliveTimeout: number | undefined): void
  /** The socket is gone (closed by either side); the connection is dropped. */
  lost(connection: UpstreamConnection): void
}

/**
 * One keep-alive HTTP/1.1 connection to the backend, carrying one exchange at a time (no
 * pipelining, RFC 9112 §9.3.2: a response must be read whole before the next request goes out).
 * It is reused only when the last response was cleanly framed and kept alive, and it is dropped as
 * soon as the backend closes it, so an idle connection the backend closed is never handed a request.
 */
export class UpstreamConnection implements ResponseSink {
  readonly socket: Socket
  readonly #owner: ConnectionOwner
  readonly #parser: ResponseParser
  #exchange: UpstreamExchange | undefined
  #keepAliveTimeout: number | undefined
  #connected = false
  #paused = false
  #lost = false
  /** `performance.now()` after which the current phase has timed out; 0: no deadline. */
  deadline = 0
  /** Which timeout `deadline` enforces. */
  phase: 'connect' | 'headers' | 'body' | 'idle' = 'connect'
  /** Idle connections: `performance.now()` after which the backend may close it (keep-alive timeout). */
  idleUntil = 0

  constructor(socket: Socket, owner: ConnectionOwner, maxHeadBytes: number, connectTimeout: number, secure: boolean) {
    this.socket = socket
    this.#owner = owner
    this.#parser = new ResponseParser(maxHeadBytes)
    this.deadline = connectTimeout > 0 ? performance.now() + connectTimeout : 0
    socket.once(secure ? 'secureConnect' : 'connect', this.#onConnect)
    socket.on('data', this.#onData)
    socket.on('end', this.#onEnd)
    socket.on('error', this.#onSocketError)
    socket.on('close', this.#onClose)
  }

  /** Sends an exchange's request; its response is reported to it. */
  start(exchange: UpstreamExchange): void {
    this.#exchange = exchange
    exchange.connection = this
    this.#parser.begin(exchange.method, this)
    if (this.#connected) this.#arm('headers', this.#owner.headersTimeout)
    // Before 'connect', node queues the write and sends it once connected.
    this.socket.write(exchange.bytes)
  }

  /** Backpressure from the client side: stop reading the backend until `resume`. */
  pause(): void {
    this.#paused = true
    this.socket.pause()
    // Silence while the client is slow is not the backend's: the body timeout waits for `resume`.
    if (this.phase === 'body') this.deadline = 0
  }

  resume(): void {
    if (!this.#paused) return
    this.#paused = false
    this.socket.resume()
    if (this.phase === 'body') this.#arm('body', this.#owner.bodyTimeout)
  }

  /** Ends the exchange with `error` and closes the connection (a client that went away, a timeout). */
  abort(error: Error): void {
    this.#fail(error)
  }

  /** Closes an idle connection (keep-alive expired, pool closing); the pool hears `lost` at once. */
  close(): void {
    this.#fail(new UpstreamFailure('closed', 'the connection was closed'))
  }

  onHead(head: ResponseHead, framing: ResponseFraming): void {
    this.#keepAliveTimeout = framing.keepAliveTimeout
    this.#arm('body', this.#owner.bodyTimeout)
    ;(this.#exchange as UpstreamExchange).onHead(head, framing)
  }

  onBody(chunk: Buffer, last: boolean): void {
    if (this.deadline !== 0 && !last) this.deadline = performance.now() + this.#owner.bodyTimeout
    ;(this.#exchange as UpstreamExchange).onBody(chunk, last)
  }

  onEnd(reusable: boolean): void {
    const exchange = this.#exchange as UpstreamExchange
    this.#exchange = undefined
    exchange.connection = undefined
    this.phase = 'idle'
    // Paused for a slow client, the response may still have ended (its last bytes were read):
    // the next exchange, or the idle watch for the backend closing, needs the socket read again.
    this.resume()
    this.deadline = 0
    // The client's response first, then the connection goes back (possibly to a queued request).
    exchange.onEnd(reusable)
    if (this.#lost) return
    this.#owner.released(this, reusable && !this.socket.destroyed && this.socket.readable, this.#keepAliveTimeout)
  }

  #arm(phase: 'headers' | 'body', timeout: number): void {
    this.phase = phase
    this.deadline = timeout > 0 ? performance.now() + timeout : 0
  }

  readonly #onConnect = (): void => {
    this.#connected = true
    if (this.#exchange !== undefined) this.#arm('headers', this.#owner.headersTimeout)
    else this.deadline = 0
  }

  readonly #onData = (data: Buffer): void => {
    try {
      this.#parser.execute(data)
    } catch (error) {
      this.#fail(
        error instanceof ResponseHeadError ? new UpstreamFailure('bad_response', `bad response from the backend: ${error.message}`) : (error as Error),
      )
    }
  }

  readonly #onEnd = (): void => {
    // The backend closed its side: the end of a close-delimited body, a truncated response, or
    // an idle connection its keep-alive timer closed. Either way the connection is gone now, not
    // when 'close' follows, so that no request is handed to it in between.
    let error = new UpstreamFailure('closed', 'the backend closed the connection')
    try {
      this.#parser.eof()
    } catch (cause) {
      error = new UpstreamFailure('closed', (cause as Error).message)
    }
    this.#fail(error)
  }

  readonly #onSocketError = (error: Error): void => this.#fail(error)

  readonly #onClose = (): void => {
    this.#fail(new UpstreamFailure('closed', 'the backend closed the connection'))
  }

  /** The exchange (if any) fails with `error`; the socket is destroyed and the pool told, once. */
  #fail(error: Error): void {
    const exchange = this.#exchange
    this.#exchange = undefined
    this.deadline = 0
    if (!this.#lost) {
      this.#lost = true
      this.socket.destroy()
      this.#owner.lost(this)
    }
    if (exchange !== undefined) {
      exchange.connection = undefined
      exchange.onError(error)
    }
  }
}
