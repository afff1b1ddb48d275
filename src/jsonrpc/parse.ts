import { isUtf8 } from 'node:buffer'
import {
  headerMismatch,
  invalidJsonRpc,
  JSONRPC_INVALID_PARAMS,
  JSONRPC_PARSE_ERROR,
  jsonRpcBadRequest,
  unsupportedVersion,
  type JsonRpcId,
} from './errors.js'
import { decodeHeaderValue, INVALID_HEADER, singleHeader, type HeaderMap } from './header-value.js'
import { checkJsonText } from './json-text.js'
import type { McpMessage, McpRequest } from './mcp-request.js'
import {
  DEFAULT_PROTOCOL_VERSION,
  featuresOf,
  isProtocolVersion,
  PROTOCOL_VERSION_META_KEY,
  PROTOCOL_VERSIONS,
  type ProtocolFeatures,
  type ProtocolVersion,
} from './protocol-version.js'

export interface ParseMcpRequestOptions {
  /** The whole request body, already size-bounded by the caller. */
  readonly body: Buffer
  /** Request headers with lower-case names, as node:http delivers them. */
  readonly headers: HeaderMap
  /** Deepest object/array nesting accepted. Default: 64. */
  readonly maxDepth?: number
  /**
   * The versions this deployment serves (`backend.protocolVersions`); a request that names another
   * one is a 400 `-32022` listing these. Default: every version the gateway knows.
   */
  readonly versions?: readonly ProtocolVersion[]
}

type JsonObject = Record<string, unknown>

/** Where each method's authorization target sits in `params` (schema `CallToolRequest`, `GetPromptRequest`, `ReadResourceRequest`, ...). */
const TARGET_PARAM: ReadonlyMap<string, { readonly param: 'name' | 'uri'; readonly missing: string }> = new Map([
  ['tools/call', { param: 'name', missing: 'tools/call needs params.name as a non-empty string' }],
  ['prompts/get', { param: 'name', missing: 'prompts/get needs params.name as a non-empty string' }],
  ['resources/read', { param: 'uri', missing: 'resources/read needs params.uri as a non-empty string' }],
  ['resources/subscribe', { param: 'uri', missing: 'resources/subscribe needs params.uri as a non-empty string' }],
  ['resources/unsubscribe', { param: 'uri', missing: 'resources/unsubscribe needs params.uri as a non-empty string' }],
])

const LEGACY_BATCH = featuresOf('2025-03-26')

/**
 * Parses an MCP POST body once, checks its JSON-RPC shape, detects the protocol version and, for
 * 2026-07-28, checks the mirrored headers against the body. Anything it cannot vouch for is a 400
 * `BadRequest` carrying a JSON-RPC error code, so nothing unchecked reaches the backend.
 *
 * Version detection (docs/policy.md, the version table): a batch is 2025-03-26; `initialize` names
 * its version in `params.protocolVersion`; `params._meta["io.modelcontextprotocol/protocolVersion"]`
 * marks a modern request; otherwise `MCP-Protocol-Version`, and without it 2025-03-26.
 *
 * @example
 * const request = parseMcpRequest({ body, headers: req.headers })
 * authorize(policy, principal, request)
 */
export function parseMcpRequest(options: ParseMcpRequestOptions): McpRequest {
  const { body, headers } = options
  // RFC 8259 §8.1: JSON text is UTF-8. Decoding would replace bad bytes with U+FFFD for the gateway
  // while the backend reads the raw bytes its own way, so they are refused, not repaired.
  if (!isUtf8(body)) throw jsonRpcBadRequest('invalid_body', 'Request body is not valid UTF-8', JSONRPC_PARSE_ERROR, null)
  const problem = checkJsonText(body, options.maxDepth ?? 64)
  if (problem === 'too_deep') {
    throw jsonRpcBadRequest('invalid_body', 'Request body nests JSON too deeply', JSONRPC_PARSE_ERROR, null)
  }
  if (problem === 'duplicate_member') {
    throw invalidJsonRpc('Request body repeats a member name in an object', null)
  }
  let value: unknown
  try {
    value = JSON.parse(body.toString('utf8'))
  } catch {
    throw jsonRpcBadRequest('invalid_body', 'Request body is not valid JSON', JSONRPC_PARSE_ERROR, null)
  }
  const headerVersion = singleHeader(headers, 'mcp-protocol-version')

  if (Array.isArray(value)) {
    // JSON-RPC batches exist only in 2025-03-26 (removed in 2025-06-18, changelog major #1); that
    // version defines no MCP-Protocol-Version header, so a batch naming another version is refused.
    if (headerVersion !== undefined && headerVersion !== '2025-03-26') {
      throw invalidJsonRpc('JSON-RPC batches are not allowed in this protocol version', null)
    }
    if (value.length === 0) throw invalidJsonRpc('JSON-RPC batch is empty', null)
    const messages = new Array<McpMessage>(value.length)
    for (let i = 0; i < value.length; i++) {
      const message = readMessage(value[i], null)
      checkTarget(message, LEGACY_BATCH, null)
      messages[i] = message
    }
    return { version: '2025-03-26', batch: true, messages, body: value }
  }

  const message = readMessage(value, undefined)
  const object = value as JsonObject
  const id: JsonRpcId = message.id ?? null
  const version = detectVersion(object, message, headerVersion, id, options.versions ?? PROTOCOL_VERSIONS)
  const features = featuresOf(version)
  if (message.kind === 'response' && !features.clientResponses) throw clientResponseRefused(id)
  checkTarget(message, features, id)
  if (features.mirroredHeaders) checkMirroredHeaders(object, message, headers, version, id)
  return { version, batch: false, messages: [message], body: value }
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * JSON-RPC 2.0 §4 and §5 shape checks. `batchId` is the id reported for a failure inside a batch
 * (`null`); for a single message the message's own id is reported when it is usable.
 */
function readMessage(value: unknown, batchId: null | undefined): McpMessage {
  if (!isObject(value)) throw invalidJsonRpc('JSON-RPC message must be an object', null)
  const rawId = value.id
  const validId = typeof rawId === 'string' || (typeof rawId === 'number' && Number.isFinite(rawId))
  const errorId: JsonRpcId = batchId === undefined && validId ? rawId : null
  if (value.jsonrpc !== '2.0') throw invalidJsonRpc('JSON-RPC version must be 2.0', errorId)

  const method = value.method
  if (method !== undefined) {
    if (typeof method !== 'string' || method === '') {
      throw invalidJsonRpc('JSON-RPC method must be a non-empty string', errorId)
    }
    // MCP: "the ID MUST NOT be null" (basic/index §Requests); JSON-RPC allows only strings and numbers.
    if (rawId !== undefined && !validId) throw invalidJsonRpc('JSON-RPC id must be a string or a number', null)
    const params = value.params
    if (params !== undefined && !isObject(params)) {
      throw invalidJsonRpc('JSON-RPC params must be an object', errorId, JSONRPC_INVALID_PARAMS)
    }
    // Read wherever it sits; whether it must be there depends on the version (`checkTarget`).
    const targetParam = TARGET_PARAM.get(method)
    const candidate = targetParam === undefined ? undefined : params?.[targetParam.param]
    const target = typeof candidate === 'string' && candidate !== '' ? candidate : undefined
    return {
      kind: rawId === undefined ? 'notification' : 'request',
      method,
      id: validId ? rawId : undefined,
      target,
    }
  }

  // A response (JSON-RPC §5): exactly one of result and error; an error response may have a null id.
  const hasResult = value.result !== undefined
  if (hasResult === (value.error !== undefined)) {
    throw invalidJsonRpc('JSON-RPC message has no method', errorId)
  }
  if (!validId && !(rawId === null && !hasResult)) {
    throw invalidJsonRpc('JSON-RPC id must be a string or a number', null)
  }
  return { kind: 'response', method: undefined, id: validId ? rawId : undefined, target: undefined }
}

/**
 * Fail closed where a rule needs the target: a method the version defines with a tool, prompt or
 * resource target is refused (`-32602`) without one. Methods the version removed are not checked
 * here, so the backend answers them as it would without the gateway (`-32601`).
 */
function checkTarget(message: McpMessage, features: ProtocolFeatures, id: JsonRpcId): void {
  const method = message.method
  if (message.target !== undefined || method === undefined || !features.targetRequired.has(method)) return
  const targetParam = TARGET_PARAM.get(method)
  if (targetParam !== undefined) throw invalidJsonRpc(targetParam.missing, id, JSONRPC_INVALID_PARAMS)
}

function clientResponseRefused(id: JsonRpcId) {
  return invalidJsonRpc('This protocol version does not accept JSON-RPC responses from clients', id)
}

function detectVersion(
  object: JsonObject,
  message: McpMessage,
  headerVersion: string | undefined | typeof INVALID_HEADER,
  id: JsonRpcId,
  served: readonly ProtocolVersion[],
): ProtocolVersion {
  const params = object.params as JsonObject | undefined
  if (message.method === 'initialize') {
    // The legacy handshake proposes a version and the backend negotiates (lifecycle §Version
    // Negotiation), so an unknown proposal is not refused here; legacy rules apply either way.
    const proposed = params?.protocolVersion
    return isProtocolVersion(proposed) && featuresOf(proposed).initialize ? proposed : DEFAULT_PROTOCOL_VERSION
  }

  const meta = params?._meta
  if (isObject(meta) && meta[PROTOCOL_VERSION_META_KEY] !== undefined) {
    const bodyVersion = meta[PROTOCOL_VERSION_META_KEY]
    // streamable-http §Server Validation: the header is required on every POST and must equal the body.
    if (headerVersion === undefined) throw headerMismatch('MCP-Protocol-Version header is missing', id)
    if (headerVersion !== bodyVersion) {
      throw headerMismatch('MCP-Protocol-Version header does not match the request body', id)
    }
    if (!isProtocolVersion(bodyVersion) || !featuresOf(bodyVersion).versionInMeta || !served.includes(bodyVersion)) {
      throw unsupportedVersion(id, served, bodyVersion)
    }
    return bodyVersion
  }

  if (headerVersion === undefined) return DEFAULT_PROTOCOL_VERSION
  if (headerVersion === INVALID_HEADER || !isProtocolVersion(headerVersion) || !served.includes(headerVersion)) {
    throw unsupportedVersion(id, served, headerVersion)
  }
  if (featuresOf(headerVersion).versionInMeta) {
    // basic/index §Statelessness: a request missing a required `_meta` field is invalid params
    // (-32602); the headers are not at fault, so this is no -32020. A client response has no params.
    if (message.kind === 'response') throw clientResponseRefused(id)
    throw invalidJsonRpc('This protocol version needs its version in params._meta', id, JSONRPC_INVALID_PARAMS)
  }
  return headerVersion
}

/**
 * 2026-07-28 §Server Validation: `Mcp-Method` and `Mcp-Name` must be present where required and equal
 * the body after decoding. Legacy traffic never gets here: its headers are ignored (research §2.3).
 */
function checkMirroredHeaders(
  object: JsonObject,
  message: McpMessage,
  headers: HeaderMap,
  version: ProtocolVersion,
  id: JsonRpcId,
): void {
  const method = message.method
  if (method === undefined) return
  const headerMethod = singleHeader(headers, 'mcp-method')
  if (headerMethod === undefined) {
    // The spec table requires Mcp-Method on requests; SEP-2243 also named notifications, so a
    // notification's header is checked when sent.
    if (message.kind === 'request') throw headerMismatch('Mcp-Method header is missing', id)
  } else if (headerMethod !== method) {
    throw headerMismatch('Mcp-Method header does not match the request body', id)
  }

  const features = featuresOf(version)
  const required = features.requiredNameHeader.get(method)
  const param = required ?? features.optionalNameHeader.get(method)
  if (param === undefined) return
  const headerName = singleHeader(headers, 'mcp-name')
  if (headerName === undefined) {
    if (required !== undefined) throw headerMismatch('Mcp-Name header is missing', id)
    return
  }
  const decoded = headerName === INVALID_HEADER ? INVALID_HEADER : decodeHeaderValue(headerName)
  if (decoded === INVALID_HEADER) throw headerMismatch('Mcp-Name header has an invalid value', id)
  const bodyValue = message.target ?? (object.params as JsonObject | undefined)?.[param]
  if (decoded !== bodyValue) throw headerMismatch('Mcp-Name header does not match the request body', id)
}
