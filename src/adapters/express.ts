/**
 * `mcp-resource-gateway/express`: the resource server as Express 5 middleware.
 *
 * @example
 * app.use(mcpAuth(rs))   // metadata at both URLs, 401/403 with the challenges, `req.auth` set
 * app.post('/mcp', express.json(), (req, res) => transport.handleRequest(req, res, req.body))
 */
import type { Request, RequestHandler } from 'express'
import { GatewayError } from '../errors.js'
import type { McpAuthInfo } from '../library/auth-info.js'
import type { ResourceServer } from '../library/resource-server.js'
import { readBody } from '../server/read-body.js'
import { pathOf, writeAnswer } from './node.js'

/**
 * Mount it before the MCP route (at the application root, so both metadata URLs are reached).
 * On the MCP path it authenticates, then authorizes the JSON-RPC call: from `req.body` when a body
 * parser ran before it, otherwise it reads the body itself (bounded by `limits.maxBodySize`) and
 * leaves the parsed JSON in `req.body`. Other paths pass untouched; unexpected errors go to `next`.
 */
export function mcpAuth(rs: ResourceServer): RequestHandler {
  return function mcpAuthMiddleware(req, res, next) {
    const path = pathOf(req.originalUrl)
    const metadata = rs.metadataAnswer(path, req.method, req.headers)
    if (metadata !== undefined) return writeAnswer(res, metadata)
    if (!rs.protects(path)) return next()
    admit(rs, req).then(
      () => next(),
      (error: unknown) => (error instanceof GatewayError ? writeAnswer(res, rs.refusal(error)) : next(error)),
    )
  }
}

async function admit(rs: ResourceServer, req: Request): Promise<void> {
  const { principal, auth } = await rs.authenticate(req.headers)
  let body: unknown
  // Read to its end, so a body parser mounted later sees the stream finished and keeps `req.body`.
  if (req.method === 'POST') body = req.body ?? (await readBody(req, rs.config.limits.maxBodySize))
  const call = rs.authorize(principal, body, req.headers)
  if (call !== undefined && req.body === undefined) req.body = call.request.body
  // Not typed through `Request`: the MCP SDK augments it with its own `auth` type when loaded.
  ;(req as { auth?: McpAuthInfo }).auth = auth
}
