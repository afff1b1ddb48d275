import type { ResponseSink } from './response-parser.js'
import type { UpstreamConnection } from './upstream-connection.js'

/**
 * One request to the backend as the pool carries it: its bytes (head and body, written at once),
 * and the callbacks that receive the response. A request is never retried: whatever happens to
 * the connection after its bytes were handed over is reported through `onError`.
 */
export interface UpstreamExchange extends ResponseSink {
  readonly method: string
  /** The whole request: head and body, sent in one write. */
  readonly bytes: Buffer
  /** The connection carrying it, set by the pool (for pause, resume and abort); cleared at the end. */
  connection: UpstreamConnection | undefined
  /** The request failed: connection refused or lost, a timeout, a malformed response. Called once. */
  onError(error: Error): void
}

/** Why an exchange failed, when the pool itself decided it (socket errors keep their own). */
export class UpstreamFailure extends Error {
  override readonly name = 'UpstreamFailure'
  constructor(
    readonly code: 'connect_timeout' | 'headers_timeout' | 'body_timeout' | 'bad_response' | 'closed' | 'pool_closed',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}
