/**
 * `mcp-resource-gateway/node`: the resource server around a plain node:http handler.
 *
 * @example
 * const rs = await createResourceServer({ ... })
 * createServer(withMcpAuth(rs, (req, res, body) => transport.handleRequest(req, res, body))).listen(3000)
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { McpAuthInfo } from '../library/auth-info.js'
import type { ResourceServer } from '../library/resource-server.js'
import type { Answer } from '../server/respond.js'
import { readRequestBody } from '../server/read-body.js'

/** A request the resource server let through: `auth` is set on the MCP path. */
export type AuthenticatedRequest = IncomingMessage & { auth?: McpAuthInfo }

/** `body` is the parsed JSON of an MCP POST (read once, here), else `undefined`. */
export type McpHandler = (req: AuthenticatedRequest, res: ServerResponse, body: unknown) => void | Promise<void>

/**
 * Serves the RFC 9728 metadata at both URLs; on the MCP path answers 401/403 with the gateway's
 * challenges, or sets `req.auth` (the MCP SDK's `AuthInfo`) and calls `handler`; every other path
 * goes to `handler` untouched. An error `handler` throws is answered 500.
 */
export function withMcpAuth(rs: ResourceServer, handler: McpHandler): (req: IncomingMessage, res: ServerResponse) => void {
  return function handle(req, res) {
    admit(rs, req, res)
      .then((admitted) => (admitted === undefined ? undefined : handler(req, res, admitted.body)))
      .catch((error: unknown) => writeAnswer(res, rs.refusal(error)))
  }
}

/** `{ body }` when the handler should run; `undefined` when the answer is already written. */
async function admit(rs: ResourceServer, req: AuthenticatedRequest, res: ServerResponse): Promise<{ body: unknown } | undefined> {
  const path = pathOf(req.url)
  const metadata = rs.metadataAnswer(path, req.method, req.headers)
  if (metadata !== undefined) {
    writeAnswer(res, metadata)
    return undefined
  }
  if (!rs.protects(path)) return { body: undefined }
  const { principal, auth } = await rs.authenticate(req.headers)
  const bytes = req.method === 'POST' ? await readRequestBody(req, rs.config.limits.maxBodySize) : undefined
  const call = rs.authorize(principal, bytes, req.headers)
  req.auth = auth
  return { body: call?.request.body }
}

/** Writes an answer of the core (a refusal, or the metadata document) on a node:http response. */
export function writeAnswer(res: ServerResponse, answer: Answer): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const headers = answer.headers['content-length'] === undefined ? { ...answer.headers, 'content-length': String(Buffer.byteLength(answer.body)) } : answer.headers
  res.writeHead(answer.status, headers)
  res.end(answer.body === '' ? undefined : answer.body)
}

/** The path of a request target, without its query. */
export function pathOf(url: string | undefined): string {
  const target = url ?? '/'
  const q = target.indexOf('?')
  return q === -1 ? target : target.slice(0, q)
}
