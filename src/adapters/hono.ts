/**
 * `mcp-resource-gateway/hono`: the resource server as Hono 4 middleware.
 *
 * @example
 * app.use(mcpAuth(rs))   // metadata at both URLs, 401/403 with the challenges, `c.get('auth')`
 * app.post('/mcp', async (c) => transport.handleRequest(c.req.raw, { authInfo: c.get('auth'), parsedBody: await c.req.json() }))
 */
import type { MiddlewareHandler } from 'hono'
import { readBoundedText } from '../common/bounded-body.js'
import { BadRequest, GatewayError } from '../errors.js'
import type { McpAuthInfo } from '../library/auth-info.js'
import type { ResourceServer } from '../library/resource-server.js'
import type { Answer } from '../server/respond.js'

/** The variables this middleware sets: `auth`, the MCP SDK's `AuthInfo`. */
export interface McpAuthEnv {
  Variables: { auth: McpAuthInfo }
}

/**
 * On the MCP path it authenticates, reads the body (bounded by `limits.maxBodySize`; Hono's body
 * cache keeps it, so `c.req.json()` still works after) and authorizes the call, then sets `c.set('auth', ...)`.
 * Other paths pass untouched; unexpected errors reach Hono's `onError`.
 */
export function mcpAuth(rs: ResourceServer): MiddlewareHandler<McpAuthEnv> {
  return async function mcpAuthMiddleware(c, next) {
    const path = c.req.path
    const metadata = rs.metadataAnswer(path, c.req.method, c.req.raw.headers)
    if (metadata !== undefined) return respond(metadata)
    if (!rs.protects(path)) return next()
    try {
      const { principal, auth } = await rs.authenticate(c.req.raw.headers)
      let body: string | undefined
      if (c.req.method === 'POST') {
        const limit = rs.config.limits.maxBodySize
        if (Number(c.req.header('content-length') ?? 0) > limit) throw tooLarge()
        // A chunked body has no declared length: it is read here, bounded, and given up at the limit,
        // so a large body is never held whole; Hono's own body cache then serves `c.req.json()`.
        const read = c.req.raw.body === null ? '' : await readBoundedText(c.req.raw.body, limit)
        if (read === undefined) throw tooLarge()
        ;(c.req.bodyCache as Record<string, unknown>).text = Promise.resolve(read)
        body = read
      }
      rs.authorize(principal, body, c.req.raw.headers)
      c.set('auth', auth)
    } catch (error) {
      if (!(error instanceof GatewayError)) throw error
      return respond(rs.refusal(error))
    }
    await next()
  }
}

function respond(answer: Answer): Response {
  // A body refused part-way is not read on: the connection closes after the answer (RFC 9112 §9.6).
  const headers = answer.status === 413 ? { ...answer.headers, connection: 'close' } : answer.headers
  return new Response(answer.body === '' ? null : answer.body, { status: answer.status, headers })
}

function tooLarge(): BadRequest {
  return new BadRequest('body_too_large', 'The request body is too large', 413)
}
