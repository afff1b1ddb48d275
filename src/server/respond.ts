import type { ServerResponse } from 'node:http'
import { GatewayError, InsufficientScope, type AuthScheme } from '../errors.js'
import { buildChallenges, type DpopChallengeOptions } from '../metadata/challenge.js'

export interface ChallengeContext {
  resourceMetadata: string
  /** Scopes named in a 401 challenge (the required scopes). */
  scope401: readonly string[]
  /** Set when DPoP is accepted: 401s offer the DPoP scheme too (RFC 9449 §7.1). */
  dpop?: DpopChallengeOptions | undefined
}

/** A whole HTTP answer (a refusal, the metadata document), for node:http or any framework to write. */
export interface Answer {
  readonly status: number
  /** A header with several field lines (`WWW-Authenticate` per scheme) is a list. */
  readonly headers: Readonly<Record<string, string | string[]>>
  readonly body: string
}

/**
 * The answer to a refused request: status, `WWW-Authenticate` for 401/403 (RFC 6750 §3; one field
 * per offered scheme when DPoP is on, RFC 9449 §7.1), `Cache-Control: no-store`, `Retry-After`
 * when known, and a small JSON body. The body is the OAuth shape, or a JSON-RPC error object when
 * the refusal is a JSON-RPC one (MCP 2026-07-28 `-32020`). `scheme`: the one the client used.
 */
export function refusalOf(error: GatewayError, challenge: ChallengeContext, scheme?: AuthScheme): Answer {
  const headers: Record<string, string | string[]> = {
    'content-type': 'application/json',
    'cache-control': 'no-store',
  }
  if (error.challenges) {
    const scope = error instanceof InsufficientScope ? error.scope : challenge.scope401
    const values = buildChallenges(error, challenge.resourceMetadata, scope, scheme, challenge.dpop)
    headers['www-authenticate'] = values.length === 1 ? (values[0] as string) : values
  }
  if (error.headers !== undefined) Object.assign(headers, error.headers)
  if (error.retryAfter !== undefined) headers['retry-after'] = String(error.retryAfter)
  const body =
    error.jsonRpcCode === undefined
      ? { error: error.bearerError ?? error.reason, error_description: error.description }
      : {
          jsonrpc: '2.0',
          id: error.jsonRpcId ?? null,
          error: { code: error.jsonRpcCode, message: error.description, ...(error.jsonRpcData === undefined ? {} : { data: error.jsonRpcData }) },
        }
  return { status: error.status, headers, body: JSON.stringify(body) }
}

/** Writes `refusalOf(error)`; a response already under way can only be cut. */
export function writeError(res: ServerResponse, error: GatewayError, challenge: ChallengeContext, scheme?: AuthScheme): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  afterReadParsed(res, () => {
    if (res.headersSent) return
    closeIfBodyUnread(res)
    const { status, headers, body } = refusalOf(error, challenge, scheme)
    res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(body) })
    res.end(body)
  })
}

/**
 * RFC 9728 §3.2: the metadata document over GET (and HEAD), JSON, readable from any origin since
 * browsers fetch it before they have a token; a CORS preflight is answered, other methods are 405.
 */
export function metadataAnswer(method: string | undefined, document: string, requestHeaders: string | undefined): Answer {
  if (method === 'OPTIONS') {
    return {
      status: 204,
      headers: {
        'access-control-allow-origin': '*',
        'access-control-allow-methods': 'GET, HEAD, OPTIONS',
        'access-control-allow-headers': requestHeaders ?? 'MCP-Protocol-Version',
      },
      body: '',
    }
  }
  if (method !== 'GET' && method !== 'HEAD') {
    return { status: 405, headers: { 'access-control-allow-origin': '*', allow: 'GET, HEAD, OPTIONS' }, body: '' }
  }
  const headers = {
    'access-control-allow-origin': '*',
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(document)),
    'cache-control': 'public, max-age=300',
  }
  return { status: 200, headers, body: method === 'HEAD' ? '' : document }
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
