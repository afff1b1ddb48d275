import type { ServerResponse } from 'node:http'
import { GatewayError, InsufficientScope } from '../errors.js'
import { buildChallenge } from '../metadata/challenge.js'

export interface ChallengeContext {
  resourceMetadata: string
  /** Scopes named in a 401 challenge (the required scopes). */
  scope401: readonly string[]
}

/**
 * Writes a refused request: status, exactly one `WWW-Authenticate` for 401/403, `Cache-Control:
 * no-store`, `Retry-After` when known, and a small JSON body. The body is the OAuth shape, or a
 * JSON-RPC error object when the refusal is a JSON-RPC one (MCP 2026-07-28 `-32020`).
 */
export function writeError(res: ServerResponse, error: GatewayError, challenge: ChallengeContext): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  afterReadParsed(res, () => sendError(res, error, challenge))
}

function sendError(res: ServerResponse, error: GatewayError, challenge: ChallengeContext): void {
  if (res.headersSent) return
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'cache-control': 'no-store',
  }
  closeIfBodyUnread(res)
  if (error.challenges) {
    const scope = error instanceof InsufficientScope ? error.scope : challenge.scope401
    headers['www-authenticate'] = buildChallenge(error, challenge.resourceMetadata, scope)
  }
  if (error.headers !== undefined) Object.assign(headers, error.headers)
  if (error.retryAfter !== undefined) headers['retry-after'] = error.retryAfter
  const body =
    error.jsonRpcCode === undefined
      ? { error: error.bearerError ?? error.reason, error_description: error.description }
      : {
          jsonrpc: '2.0',
          id: error.jsonRpcId ?? null,
          error: { code: error.jsonRpcCode, message: error.description, ...(error.jsonRpcData === undefined ? {} : { data: error.jsonRpcData }) },
        }
  const text = JSON.stringify(body)
  headers['content-length'] = Buffer.byteLength(text)
  res.writeHead(error.status, headers)
  res.end(text)
}

export function writeJson(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  afterReadParsed(res, () => {
    closeIfBodyUnread(res)
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers })
    res.end(text)
  })
}

/**
 * Runs `write` now, or, while the body is unread, once node has parsed the rest of the read that
 * brought the head (it hands a request over, and runs its promise jobs, before that): so a body
 * sent whole with its head keeps the connection alive, and only one still missing closes it.
 */
function afterReadParsed(res: ServerResponse, write: () => void): void {
  if (res.req?.complete === false) setImmediate(write)
  else write()
}

/**
 * An answer written before the request body is all in (a refusal, a 404) closes the connection
 * after it (RFC 9112 §9.6) instead of keeping it alive: keeping it would mean reading the rest of
 * the body, which a hostile client can trickle, or never send, to hold the socket.
 */
export function closeIfBodyUnread(res: ServerResponse): void {
  if (res.req?.complete === false && !res.headersSent) res.setHeader('connection', 'close')
}
