import type { IncomingMessage, ServerResponse } from 'node:http'
import { connect } from 'node:net'
import type { Duplex, Writable } from 'node:stream'
import { Pool } from 'undici'
import { UpstreamError } from '../errors.js'
import { events } from '../observability/events.js'
import { downstreamResponseHeaders, upstreamRequestHeaders } from './headers.js'

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

  async function forward(
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer | undefined,
    rewrite?: ResponseRewriter,
  ): Promise<ForwardResult> {
    const started = performance.now()
    const controller = new AbortController()
    const onClose = () => {
      if (!res.writableFinished) controller.abort()
    }
    res.once('close', onClose)
    let status = 0
    const headers = upstreamRequestHeaders(req.headers, {
      remoteAddress: req.socket.remoteAddress,
      proto: (req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http',
      host: req.headers.host,
    })
    // A response that may be rewritten (list filtering) must arrive as plain bytes: a gzip body
    // cannot be parsed, and passing it through unfiltered would show what the caller may not see.
    if (rewrite !== undefined) delete headers['accept-encoding']
    try {
      await pool.stream(
        {
          path: upstreamPath(req.url ?? '/'),
          method: req.method as 'GET',
          headers,
          body: body ?? null,
          signal: controller.signal,
        },
        ({ statusCode, headers }) => {
          status = statusCode
          const out = downstreamResponseHeaders(headers)
          const contentType = typeof headers['content-type'] === 'string' ? headers['content-type'] : undefined
          const transform = rewrite?.(statusCode, contentType)
          if (transform !== undefined && isEncoded(headers['content-encoding'])) {
            // Encoded although not asked to: fail closed (502) rather than forward it unfiltered.
            transform.destroy()
            throw new Error('the backend encoded a response that must be filtered')
          }
          if (transform !== undefined) delete out['content-length']
          res.writeHead(statusCode, out)
          const streaming = contentType?.startsWith('text/event-stream') === true
          if (streaming) {
            // Headers go out now: a client waits for them before the first event arrives.
            res.flushHeaders()
            trackStream(res)
          }
          if (transform === undefined) return res as Writable
          transform.pipe(res)
          return transform
        },
      )
      return { status, upstreamMs: performance.now() - started }
    } catch (error) {
      if (res.headersSent) {
        res.destroy()
        return { status, upstreamMs: performance.now() - started }
      }
      if (controller.signal.aborted) return { status: 499, upstreamMs: performance.now() - started }
      const code = (error as { code?: string }).code
      throw new UpstreamError(code !== undefined && TIMEOUT_CODES.has(code) ? 'upstream_timeout' : 'upstream_unreachable', error)
    } finally {
      res.off('close', onClose)
    }
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

function isEncoded(value: string | string[] | undefined): boolean {
  if (value === undefined) return false
  const codings = (Array.isArray(value) ? value.join(',') : value).split(',').map((c) => c.trim().toLowerCase())
  return codings.some((c) => c !== '' && c !== 'identity')
}

function trackStream(res: ServerResponse): void {
  if (!events.stream.hasSubscribers) return
  events.stream.publish({ open: true })
  res.once('close', () => events.stream.publish({ open: false }))
}
