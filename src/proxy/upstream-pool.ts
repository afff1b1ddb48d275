import { maxHeaderSize } from 'node:http'
import { connect as netConnect, isIP, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { UpstreamConnection, type ConnectionOwner } from './upstream-connection.js'
import { UpstreamFailure, type UpstreamExchange } from './upstream-exchange.js'

export interface UpstreamPoolOptions {
  /** `http://host:port` or `https://host:port`. */
  origin: string
  /** Most connections open at once; requests beyond wait in order for one to be free. */
  connections: number
  /** Milliseconds to open a connection (TCP, and TLS for https); beyond it, the request fails. */
  connectTimeout: number
  /** Milliseconds from sending a request to the response head; 0: none. */
  headersTimeout: number
  /** Longest silence inside a response body in milliseconds; 0: none (long SSE streams). */
  bodyTimeout: number
}

// As undici, which this pool replaced: without a `Keep-Alive: timeout=` hint an idle connection
// is kept 4 s; with one, 2 s less than the hint (the backend's timer and ours are not in step),
// and never more than 10 minutes.
const DEFAULT_KEEP_ALIVE = 4000
const KEEP_ALIVE_MARGIN = 2000
const MAX_KEEP_ALIVE = 600_000
// TCP keep-alive probes on connections that stay open (undici's default too).
const TCP_KEEP_ALIVE_DELAY = 60_000

/**
 * Keep-alive HTTP/1.1 connections to one backend origin, at most `connections` of them; requests
 * beyond wait in a FIFO queue. Idle connections are reused most-recent first (the one least likely
 * to have been closed by the backend's own idle timer). Timeouts are deadlines checked by one
 * timer per pool rather than a timer per request.
 */
export class UpstreamPool implements ConnectionOwner {
  readonly headersTimeout: number
  readonly bodyTimeout: number
  readonly #connectTimeout: number
  readonly #max: number
  readonly #host: string
  readonly #port: number
  readonly #secure: boolean
  readonly #servername: string | undefined
  /** The last TLS session, offered on the next connection (resumption saves a full handshake). */
  #session: Buffer | undefined
  readonly #idle: UpstreamConnection[] = []
  readonly #busy = new Set<UpstreamConnection>()
  readonly #queue: UpstreamExchange[] = []
  #open = 0
  #ticker: NodeJS.Timeout | undefined
  readonly #tickMs: number
  #closed = false
  #closing: Promise<void> | undefined
  #onClosed: (() => void) | undefined

  constructor(options: UpstreamPoolOptions) {
    const url = new URL(options.origin)
    this.#secure = url.protocol === 'https:'
    this.#host = url.hostname.replace(/^\[|\]$/g, '')
    this.#port = Number(url.port || (this.#secure ? 443 : 80))
    // RFC 6066 §3: SNI carries a host name, never an IP address literal.
    this.#servername = this.#secure && isIP(this.#host) === 0 ? this.#host : undefined
    this.#max = options.connections
    this.#connectTimeout = options.connectTimeout
    this.headersTimeout = options.headersTimeout
    this.bodyTimeout = options.bodyTimeout
    // Deadlines are checked at a fraction of the shortest timeout, between 10 ms and 1 s.
    const shortest = Math.min(...[options.connectTimeout, options.headersTimeout, options.bodyTimeout, DEFAULT_KEEP_ALIVE].filter((t) => t > 0))
    this.#tickMs = Math.min(1000, Math.max(10, Math.floor(shortest / 10)))
  }

  /** Sends `exchange` on an idle connection, a new one, or once one is free. */
  request(exchange: UpstreamExchange): void {
    if (this.#closed) {
      exchange.onError(new UpstreamFailure('pool_closed', 'the backend connection pool is closed'))
      return
    }
    const connection = this.#takeIdle() ?? (this.#open < this.#max ? this.#connect() : undefined)
    if (connection === undefined) this.#queue.push(exchange)
    else this.#start(connection, exchange)
  }

  /** Withdraws an exchange still waiting for a connection; false if it already has one (or none). */
  cancel(exchange: UpstreamExchange): boolean {
    const at = this.#queue.indexOf(exchange)
    if (at === -1) return false
    this.#queue.splice(at, 1)
    this.#settleClose()
    return true
  }

  /** Closes idle connections at once and the others as their responses end; resolves when none is left. */
  close(): Promise<void> {
    this.#closing ??= new Promise((resolve) => {
      this.#closed = true
      this.#onClosed = resolve
      for (const connection of this.#idle.splice(0)) connection.close()
      this.#settleClose()
    })
    return this.#closing
  }

  released(connection: UpstreamConnection, reusable: boolean, keepAliveTimeout: number | undefined): void {
    this.#busy.delete(connection)
    if (!reusable) {
      connection.close()
      return
    }
    const next = this.#queue.shift()
    if (next !== undefined) {
      this.#start(connection, next)
      return
    }
    const keep = keepAliveTimeout === undefined ? DEFAULT_KEEP_ALIVE : Math.min(keepAliveTimeout - KEEP_ALIVE_MARGIN, MAX_KEEP_ALIVE)
    if (this.#closed || keep <= 0) {
      connection.close()
      return
    }
    connection.idleUntil = performance.now() + keep
    this.#idle.push(connection)
  }

  lost(connection: UpstreamConnection): void {
    this.#open--
    this.#busy.delete(connection)
    const at = this.#idle.lastIndexOf(connection)
    if (at !== -1) this.#idle.splice(at, 1)
    // A slot is free: the oldest waiting request gets a new connection.
    const next = this.#queue.shift()
    if (next !== undefined) this.#start(this.#connect(), next)
    if (this.#open === 0 && this.#ticker !== undefined) {
      clearInterval(this.#ticker)
      this.#ticker = undefined
    }
    this.#settleClose()
  }

  #start(connection: UpstreamConnection, exchange: UpstreamExchange): void {
    this.#busy.add(connection)
    connection.start(exchange)
  }

  #takeIdle(): UpstreamConnection | undefined {
    if (this.#idle.length === 0) return undefined
    const now = performance.now()
    let connection = this.#idle.pop()
    while (connection !== undefined && now >= connection.idleUntil) {
      connection.close()
      connection = this.#idle.pop()
    }
    return connection
  }

  #connect(): UpstreamConnection {
    const socket: Socket = this.#secure
      ? tlsConnect({
          host: this.#host,
          port: this.#port,
          servername: this.#servername,
          session: this.#session,
          ALPNProtocols: ['http/1.1'],
        }).on('session', (session: Buffer) => {
          this.#session = session
        })
      : netConnect({ host: this.#host, port: this.#port })
    socket.setNoDelay(true)
    socket.setKeepAlive(true, TCP_KEEP_ALIVE_DELAY)
    this.#open++
    this.#ticker ??= setInterval(this.#sweep, this.#tickMs).unref()
    return new UpstreamConnection(socket, this, maxHeaderSize, this.#connectTimeout, this.#secure)
  }

  /** Fails exchanges past their deadline and closes idle connections past their keep-alive. */
  readonly #sweep = (): void => {
    const now = performance.now()
    for (const connection of this.#busy) {
      if (connection.deadline === 0 || now < connection.deadline) continue
      const phase = connection.phase
      connection.abort(
        phase === 'connect'
          ? new UpstreamFailure('connect_timeout', 'the backend connection did not open in time')
          : phase === 'headers'
            ? new UpstreamFailure('headers_timeout', 'the backend sent no response head in time')
            : new UpstreamFailure('body_timeout', 'the backend paused too long inside a response body'),
      )
    }
    for (let i = this.#idle.length - 1; i >= 0; i--) {
      const connection = this.#idle[i] as UpstreamConnection
      if (now >= connection.idleUntil) connection.close()
    }
  }

  #settleClose(): void {
    if (this.#closed && this.#open === 0 && this.#queue.length === 0) this.#onClosed?.()
  }
}
