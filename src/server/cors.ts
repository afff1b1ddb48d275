import type { IncomingMessage, ServerResponse } from 'node:http'
import { ForbiddenOrigin } from '../errors.js'
import { isLoopbackHost } from '../common/loopback.js'

// RFC 9449: a browser client sends its proof in `DPoP` and must be able to read `DPoP-Nonce`.
const EXPOSED = 'WWW-Authenticate, Mcp-Session-Id, MCP-Protocol-Version, DPoP-Nonce'
const ALLOWED_HEADERS =
  'Authorization, DPoP, Content-Type, Accept, Mcp-Session-Id, MCP-Protocol-Version, Mcp-Method, Mcp-Name, Last-Event-ID'

export interface OriginPolicy {
  readonly any: boolean
  readonly allowed: ReadonlySet<string>
}

/**
 * MCP transports §Security: servers MUST validate `Origin`; an invalid one gets 403 (DNS
 * rebinding). Requests without `Origin` (non-browser clients) pass. Loopback origins pass too: a
 * rebinding page never has a loopback origin.
 */
export function checkOrigin(origin: string | undefined, policy: OriginPolicy): string | undefined {
  if (origin === undefined) return undefined
  if (policy.any || policy.allowed.has(origin.toLowerCase())) return origin
  try {
    const url = new URL(origin)
    if ((url.protocol === 'http:' || url.protocol === 'https:') && isLoopbackHost(url.hostname)) return origin
  } catch {
    // "null" and other opaque origins are refused below.
  }
  throw new ForbiddenOrigin()
}

export function setCorsHeaders(res: ServerResponse, origin: string): void {
  res.setHeader('access-control-allow-origin', origin)
  res.setHeader('access-control-expose-headers', EXPOSED)
  res.setHeader('vary', 'Origin')
}

/** A CORS preflight on the MCP path passes without a token (browsers never send one there). */
export function writePreflight(req: IncomingMessage, res: ServerResponse, origin: string | undefined): void {
  if (origin !== undefined) setCorsHeaders(res, origin)
  const requested = req.headers['access-control-request-headers']
  // Mcp-Param-* names vary per tool (MCP 2026-07-28 §Request Metadata), so requested headers are echoed.
  res.setHeader('access-control-allow-headers', requested === undefined ? ALLOWED_HEADERS : `${ALLOWED_HEADERS}, ${requested}`)
  res.setHeader('access-control-allow-methods', 'GET, POST, DELETE, OPTIONS')
  res.setHeader('access-control-max-age', '600')
  res.writeHead(204)
  res.end()
}
