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

/**
 * Writes a refused request: status, `WWW-Authenticate` for 401/403 (one field per offered scheme), `Cache-Control:
 * no-store`, `Retry-After` when known, and a small JSON body. The body is the OAuth shape, or a
 * JSON-RPC error object when the refusal is a JSON-RPC one (MCP 2026-07-28 `-32020`).
 */
export function writeError(res: ServerResponse, error: GatewayError, challenge: ChallengeContext, scheme?: AuthScheme): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const headers: Record<string, string | number | string[]> = {
    'content-type': 'application/json',
    'cache-control': 'no-store',
  }
  if (error.challenges) {
    const scope = error instanceof InsufficientScope ? error.scope : challenge.scope401
    const values = buildChallenges(error, challenge.resourceMetadata, scope, scheme, challenge.dpop)
    headers['www-authenticate'] = values.length === 1 ? (values[0] as string) : values
  }
  if (error.headers !== undefined) Object.assign(headers, error.headers)
  if (error.retryAfter !== undefined) headers['retry-after'] = error.retryAfter
  const body =
    error.jsonRpcCode === undefined
      ? { error: error.bearerError ?? error.reason, error_description: error.description }
      : { jsonrpc: '2.0', id: error.jsonRpcId ?? null, error: { code: error.jsonRpcCode, message: error.description } }
  const text = JSON.stringify(body)
  headers['content-length'] = Buffer.byteLength(text)
  res.writeHead(error.status, headers)
  res.end(text)
}

export function writeJson(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers })
  res.end(text)
}
