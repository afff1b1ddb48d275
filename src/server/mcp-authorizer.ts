import type { IncomingHttpHeaders } from 'node:http'
import type { Config } from '../config/normalize.js'
import { checkHttpMethod } from '../jsonrpc/http-method.js'
import type { McpCall } from '../jsonrpc/mcp-call.js'
import { parseMcpRequest } from '../jsonrpc/parse.js'
import { PROTOCOL_VERSIONS, type ProtocolVersion } from '../jsonrpc/protocol-version.js'
import { authorize, authorizeHttpRequest } from '../policy/authorize.js'
import { filterJsonBody, listFilterFor } from '../policy/filter-list.js'
import { createSseListFilter } from '../policy/filter-sse.js'
import { compilePolicy } from '../policy/rules.js'
import type { ResponseRewriter } from '../proxy/forward.js'
import type { Principal } from '../token/principal.js'

/**
 * The seam between the pipeline and the pure MCP policy (src/policy, src/jsonrpc): read the call
 * from the body, decide, and say whether the response needs rewriting. Built once per config.
 */
export interface McpAuthorizer {
  readonly scopesSupported: readonly string[]
  /** Scopes named in the 401 challenge. */
  readonly challengeScope: readonly string[]
  readCall(body: Buffer, headers: IncomingHttpHeaders): McpCall
  checkHttpMethod(method: string, headers: IncomingHttpHeaders): void
  /** Throws `InsufficientScope` (403) when the principal may not make this call. */
  authorize(principal: Principal, call: McpCall | undefined): void
  /** A rewriter when this caller's list responses must be filtered; `undefined` streams untouched. */
  responseRewriter(principal: Principal, call: McpCall | undefined): ResponseRewriter | undefined
}

/** Largest JSON list response held for filtering; beyond it the response fails closed. */
const MAX_JSON_LIST_BYTES = 16 * 1024 * 1024

/** `protocolVersions`: the versions the backend speaks (default: every version the gateway knows). */
export function createMcpAuthorizer(
  config: Pick<Config, 'scopes'>,
  protocolVersions: readonly ProtocolVersion[] = PROTOCOL_VERSIONS,
): McpAuthorizer {
  const policy = compilePolicy(config.scopes)
  return {
    scopesSupported: policy.scopesSupported,
    challengeScope: policy.challengeScope,
    readCall(body, headers) {
      const request = parseMcpRequest({ body, headers, versions: protocolVersions })
      const first = request.messages[0]
      return { request, method: first?.method, target: first?.target, protocolVersion: request.version }
    },
    checkHttpMethod(method, headers) {
      checkHttpMethod(method, headers['mcp-protocol-version'], protocolVersions)
    },
    authorize(principal, call) {
      if (call === undefined) authorizeHttpRequest(policy, principal)
      else authorize(policy, principal, call.request)
    },
    responseRewriter(principal, call) {
      if (call === undefined) return undefined
      const filter = listFilterFor(policy, principal, call.request)
      if (filter === undefined) return undefined
      const version = call.request.version
      return (status, contentType) => {
        if (status !== 200 || contentType === undefined) return undefined
        if (contentType.startsWith('text/event-stream')) return { kind: 'stream', stream: createSseListFilter(filter, version) }
        // A JSON response is one document: held whole (bounded), rewritten, sent with its length.
        if (contentType.startsWith('application/json')) {
          return { kind: 'whole', maxBytes: MAX_JSON_LIST_BYTES, rewrite: (body) => filterJsonBody(filter, body, version) }
        }
        return undefined
      }
    },
  }
}
