/**
 * The MCP protocol versions the gateway serves, and what each one allows on the wire. This table is
 * the one place that knows a version: parsing, authorization and list filtering ask it, never
 * compare version strings themselves.
 *
 * @see https://modelcontextprotocol.io/specification/2026-07-28/basic/transports/streamable-http
 */

export const PROTOCOL_VERSIONS = ['2025-03-26', '2025-06-18', '2025-11-25', '2026-07-28'] as const

export type ProtocolVersion = (typeof PROTOCOL_VERSIONS)[number]

/** What a request that names no version is taken to speak (streamable-http §Protocol Version Header: MAY assume 2025-03-26). */
export const DEFAULT_PROTOCOL_VERSION: ProtocolVersion = '2025-03-26'

/** The `_meta` key that carries the version on every modern request (2026-07-28 basic/index §Statelessness). */
export const PROTOCOL_VERSION_META_KEY = 'io.modelcontextprotocol/protocolVersion'

/** Body parameter mirrored in `Mcp-Name`, per method; a fixed map shared by the versions that mirror headers. */
export type NameParam = 'name' | 'uri' | 'taskId'

export interface ProtocolFeatures {
  /** JSON-RPC batch arrays in a POST body (removed in 2025-06-18, changelog major #1). */
  readonly batches: boolean
  /** Clients POST JSON-RPC responses (answers to server-to-client requests); gone with MRTR in 2026-07-28. */
  readonly clientResponses: boolean
  /** `initialize` handshake opens a session (legacy era). */
  readonly initialize: boolean
  /** `Mcp-Session-Id` sessions exist. */
  readonly sessions: boolean
  /** GET opens a server-to-client SSE stream; 2026-07-28 answers GET with 405. */
  readonly getStream: boolean
  /** DELETE ends a session; 2026-07-28 answers DELETE with 405. */
  readonly deleteSession: boolean
  /** The version travels in `params._meta` of every request and `MCP-Protocol-Version` must equal it. */
  readonly versionInMeta: boolean
  /** `MCP-Protocol-Version` is sent on requests after `initialize` (2025-06-18 onwards). */
  readonly protocolVersionHeader: boolean
  /** `Mcp-Method` / `Mcp-Name` mirror the body and must be checked against it (SEP-2243). */
  readonly mirroredHeaders: boolean
  /** Methods whose `Mcp-Name` is required, with the body parameter it mirrors. */
  readonly requiredNameHeader: ReadonlyMap<string, NameParam>
  /** Methods whose `Mcp-Name` is checked when sent (Tasks extension: `params.taskId`). */
  readonly optionalNameHeader: ReadonlyMap<string, NameParam>
  /**
   * Methods whose target (tool name, prompt name, resource URI) must be in `params`, since a per-tool,
   * per-prompt or per-resource rule cannot be checked without it. A method the version removed is
   * not listed: its target is still read when present, and the backend answers it (`-32601`).
   */
  readonly targetRequired: ReadonlySet<string>
  /** List results carry `cacheScope` (and `ttlMs`), so a filtered list must say `"private"` (SEP-2549). */
  readonly cacheScope: boolean
  /** Every result carries `resultType`. */
  readonly resultType: boolean
  /** Closing the response stream cancels the request (2026-07-28 §Cancellation). */
  readonly disconnectCancels: boolean
}

const NONE: ReadonlyMap<string, NameParam> = new Map()

const CALL_TARGETS = ['tools/call', 'prompts/get', 'resources/read']

const LEGACY: ProtocolFeatures = {
  batches: false,
  clientResponses: true,
  initialize: true,
  sessions: true,
  getStream: true,
  deleteSession: true,
  versionInMeta: false,
  protocolVersionHeader: true,
  mirroredHeaders: false,
  requiredNameHeader: NONE,
  optionalNameHeader: NONE,
  targetRequired: new Set([...CALL_TARGETS, 'resources/subscribe', 'resources/unsubscribe']),
  cacheScope: false,
  resultType: false,
  disconnectCancels: false,
}

/** The per-version table (docs/policy.md). */
export const PROTOCOL_FEATURES: Readonly<Record<ProtocolVersion, ProtocolFeatures>> = {
  // 2025-03-26 defines no MCP-Protocol-Version header and still has batches.
  '2025-03-26': { ...LEGACY, batches: true, protocolVersionHeader: false },
  '2025-06-18': LEGACY,
  '2025-11-25': LEGACY,
  '2026-07-28': {
    batches: false,
    clientResponses: false,
    initialize: false,
    sessions: false,
    getStream: false,
    deleteSession: false,
    versionInMeta: true,
    protocolVersionHeader: true,
    mirroredHeaders: true,
    // streamable-http §Request Metadata: Mcp-Name on tools/call, prompts/get, resources/read.
    requiredNameHeader: new Map<string, NameParam>([
      ['tools/call', 'name'],
      ['prompts/get', 'name'],
      ['resources/read', 'uri'],
    ]),
    // seps/2663-tasks-extension §Routing Headers: the task id, only when the extension is in use.
    optionalNameHeader: new Map<string, NameParam>([
      ['tasks/get', 'taskId'],
      ['tasks/update', 'taskId'],
      ['tasks/cancel', 'taskId'],
    ]),
    // changelog: resources/subscribe and resources/unsubscribe gave way to subscriptions/listen.
    targetRequired: new Set(CALL_TARGETS),
    cacheScope: true,
    resultType: true,
    disconnectCancels: true,
  },
}

const KNOWN: ReadonlySet<string> = new Set(PROTOCOL_VERSIONS)

export function isProtocolVersion(value: unknown): value is ProtocolVersion {
  return typeof value === 'string' && KNOWN.has(value)
}

export function featuresOf(version: ProtocolVersion): ProtocolFeatures {
  return PROTOCOL_FEATURES[version]
}
