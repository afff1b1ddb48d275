import { filterJsonRpcResponse, type ListFilter } from '../policy/filter-list.js'
import type { ProtocolVersion } from '../jsonrpc/protocol-version.js'
import { LIST_METHODS } from '../policy/rules.js'
import { principalOf, type McpAuthInfo } from './auth-info.js'
import type { ResourceServer } from './resource-server.js'

/**
 * The part of an MCP SDK transport (`StreamableHTTPServerTransport`,
 * `WebStandardStreamableHTTPServerTransport`, or any `Transport`) that list filtering wraps.
 * Methods, not function properties, so the SDK's own signatures fit.
 */
export interface ListFilterTransport {
  onmessage?(message: unknown, extra?: { authInfo?: unknown; requestInfo?: unknown }): void
  send(message: unknown, options?: unknown): Promise<void>
}

/**
 * Hides, in the server's answers to `tools/list`, `prompts/list`, `resources/list` and
 * `resources/templates/list`, what the caller's scopes may not use (the `scopes.filterLists`
 * rules of docs/policy.md, the gateway's own code), and marks such lists `cacheScope: "private"`
 * where the protocol has it. Call it once per transport, after `server.connect(transport)`.
 *
 * It wraps the transport rather than the framework's response: the transport sees each request
 * with its `authInfo` and each answer as an object before it is framed, so one helper serves
 * every framework and both JSON and SSE responses, with nothing parsed twice.
 */
export function filterListResponses(transport: ListFilterTransport, rs: ResourceServer): void {
  const deliver = transport.onmessage
  if (deliver === undefined) throw new TypeError('filterListResponses: call it after server.connect(transport)')
  const pending = new Map<string | number, { filter: ListFilter; version: ProtocolVersion }>()
  const send = transport.send.bind(transport)

  transport.onmessage = function onmessage(message, extra) {
    // Set by this library's adapters (`req.auth`, Hono's `auth` variable).
    const auth = extra?.authInfo as McpAuthInfo | undefined
    if (auth !== undefined && isListRequest(message)) {
      const headers = ((extra?.requestInfo as { headers?: unknown } | undefined)?.headers ?? {}) as Record<string, string>
      const found = rs.listFilter(principalOf(auth), message, headers)
      if (found !== undefined) pending.set(message.id, found)
    }
    deliver.call(transport, message, extra)
  }

  transport.send = async function sendFiltered(message, options) {
    const id = (message as { id?: unknown }).id
    const found = typeof id === 'string' || typeof id === 'number' ? pending.get(id) : undefined
    if (found === undefined) return send(message, options)
    pending.delete(id as string | number)
    return send(filterJsonRpcResponse(found.filter, message, found.version) ?? message, options)
  }
}

function isListRequest(message: unknown): message is { id: string | number; method: string } {
  const m = message as { id?: unknown; method?: unknown }
  return (typeof m.id === 'string' || typeof m.id === 'number') && typeof m.method === 'string' && LIST_METHODS.has(m.method)
}
