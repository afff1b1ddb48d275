import { BadRequest, type FailureReason } from '../errors.js'
import { PROTOCOL_VERSIONS } from './protocol-version.js'

/** JSON-RPC 2.0 §5.1 codes, and the MCP 2026-07-28 ones (changelog minor #12 renumbered them). */
export const JSONRPC_PARSE_ERROR = -32700
export const JSONRPC_INVALID_REQUEST = -32600
export const JSONRPC_INVALID_PARAMS = -32602
export const MCP_HEADER_MISMATCH = -32020
export const MCP_UNSUPPORTED_PROTOCOL_VERSION = -32022

export type JsonRpcId = string | number | null

/**
 * A 400 whose body is a JSON-RPC error. `description` must be a fixed text: never a header value or
 * body content, and never `=` (it may end up in logs and in clients that regex-match `name=`).
 */
export function jsonRpcBadRequest(reason: FailureReason, description: string, code: number, id: JsonRpcId, data?: unknown): BadRequest {
  return new BadRequest(reason, description, 400, { jsonRpcCode: code, jsonRpcId: id, ...(data === undefined ? {} : { jsonRpcData: data }) })
}

export function headerMismatch(description: string, id: JsonRpcId): BadRequest {
  return jsonRpcBadRequest('header_mismatch', description, MCP_HEADER_MISMATCH, id)
}

/**
 * 400 with `-32022` and the `data` 2026-07-28 defines for it (`UnsupportedProtocolVersionError`):
 * `supported`, the versions this deployment serves, and `requested`, the client's own value (left
 * out when it sent none usable, such as a repeated header). A modern client then stays modern and
 * picks a version from `supported` (streamable-http §Protocol Version Header).
 */
export function unsupportedVersion(
  id: JsonRpcId,
  supported: readonly string[] = PROTOCOL_VERSIONS,
  requested?: unknown,
): BadRequest {
  return jsonRpcBadRequest(
    'unsupported_protocol_version',
    `Unsupported MCP protocol version; supported: ${supported.join(', ')}`,
    MCP_UNSUPPORTED_PROTOCOL_VERSION,
    id,
    // The client's own value is echoed only while it could be a version (a date, with room to spare).
    typeof requested === 'string' && requested.length <= 64 ? { supported, requested } : { supported },
  )
}

export function invalidJsonRpc(description: string, id: JsonRpcId, code = JSONRPC_INVALID_REQUEST): BadRequest {
  return jsonRpcBadRequest('invalid_jsonrpc', description, code, id)
}
