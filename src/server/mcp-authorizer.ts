import type { IncomingHttpHeaders } from 'node:http'
import type { Config } from '../config/normalize.js'
import { InsufficientScope } from '../errors.js'
import { checkHttpMethod } from '../jsonrpc/http-method.js'
import type { McpRequest } from '../jsonrpc/mcp-request.js'
import { parseMcpRequest } from '../jsonrpc/parse.js'
import type { ResponseRewriter } from '../proxy/forward.js'
import type { Principal } from '../token/principal.js'

/** The MCP call a POST carries, summarized for the decision event. */
export interface McpCall {
  readonly request: McpRequest
  /** The method of the first message (a batch lists them all in `request.messages`). */
  readonly method: string | undefined
  readonly target: string | undefined
  readonly protocolVersion: string
}

/**
 * The seam between the pipeline and the pure MCP policy: read the call from the body, decide, and
 * say whether the response needs rewriting. Built once from the configuration.
 */
export interface McpAuthorizer {
  readonly scopesSupported: readonly string[]
  /** Scopes named in the 401 challenge. */
  readonly challengeScope: readonly string[]
  readCall(body: Buffer, headers: IncomingHttpHeaders): McpCall
  checkHttpMethod(method: string, headers: IncomingHttpHeaders): void
  /** Throws `InsufficientScope` (403) when the principal may not make this call. */
  authorize(principal: Principal, call: McpCall | undefined): void
  responseRewriter(principal: Principal, call: McpCall | undefined): ResponseRewriter | undefined
}

export function createMcpAuthorizer(config: Config): McpAuthorizer {
  const required = [...config.scopes.required]
  const supported = (config.scopes.supported ?? required).filter((s) => s !== 'offline_access')
  return {
    scopesSupported: supported,
    challengeScope: required,
    readCall(body, headers) {
      const request = parseMcpRequest({ body, headers })
      const first = request.messages[0]
      return { request, method: first?.method, target: first?.target, protocolVersion: request.version }
    },
    checkHttpMethod(method, headers) {
      checkHttpMethod(method, headers['mcp-protocol-version'])
    },
    authorize(principal) {
      if (required.some((s) => !principal.scopes.has(s))) throw new InsufficientScope(required)
    },
    responseRewriter: () => undefined,
  }
}
