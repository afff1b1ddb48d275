import { answerGate } from './answer-gate.js'
import { targetFields, targetKind } from './call-target.js'
import { events, type DecisionEvent, type RevocationEvent } from './events.js'
import { isoTime, numberMember, stringMember } from './json-line.js'
import { createLineWriter, type LineWriter } from './line-writer.js'

/**
 * One decision per MCP call, for compliance ("all tool invocations logged with the authenticated
 * sub and client_id", docs/security.md). Built from the decision event only: it names the call and its
 * target, never argument values, the token or any other claim.
 */
export interface AuditRecord {
  audit: 'mcp.decision'
  /** ISO 8601, when the request finished. */
  time: string
  requestId: string
  sub: string | undefined
  client_id: string | undefined
  iss: string | undefined
  /** JSON-RPC method of the call (the first message of a batch); absent when refused before the body was read. */
  method: string | undefined
  tool?: string
  prompt?: string
  resource?: string
  decision: DecisionEvent['decision']
  reason: string | undefined
  status: number
  httpMethod: string
  protocolVersion: string | undefined
  /** The upstream identity the backend got (docs/upstream-identity.md); absent with `none`. */
  identity?: 'exchange' | 'assertion' | 'headers'
  /** The audience of the exchanged token or assertion. */
  downstream_aud?: string
}

export function toAuditRecord(e: DecisionEvent): AuditRecord {
  return {
    audit: 'mcp.decision',
    time: new Date(e.time).toISOString(),
    requestId: e.requestId,
    sub: e.subject,
    client_id: e.clientId,
    iss: e.issuer,
    method: e.mcpMethod,
    ...targetFields(e.mcpMethod, e.target),
    decision: e.decision,
    reason: e.reason,
    status: e.status,
    httpMethod: e.httpMethod,
    protocolVersion: e.protocolVersion,
    ...(e.identityMode === undefined ? {} : { identity: e.identityMode }),
    ...(e.downstreamAudience === undefined ? {} : { downstream_aud: e.downstreamAudience }),
  }
}

/**
 * `JSON.stringify(toAuditRecord(e))` and a newline, built without the object: written for every
 * MCP call, where the object, its spread and the generic serialization were most of the cost.
 */
export function auditLine(e: DecisionEvent): string {
  const kind = targetKind(e.mcpMethod)
  return (
    `{"audit":"mcp.decision","time":"${isoTime(e.time)}"` +
    stringMember('requestId', e.requestId, true) +
    stringMember('sub', e.subject) +
    stringMember('client_id', e.clientId) +
    stringMember('iss', e.issuer) +
    stringMember('method', e.mcpMethod) +
    (kind === undefined ? '' : stringMember(kind, e.target)) +
    stringMember('decision', e.decision) +
    stringMember('reason', e.reason) +
    numberMember('status', e.status) +
    stringMember('httpMethod', e.httpMethod) +
    stringMember('protocolVersion', e.protocolVersion) +
    stringMember('identity', e.identityMode) +
    stringMember('downstream_aud', e.downstreamAudience) +
    '}\n'
  )
}

/**
 * An operator's revocation (`admin.revocation`): who (the admin peer), what (the id, a hash, and its
 * kind), until when, and whether every replica got it. Never the token nor the claim it names.
 */
export function revocationLine(e: RevocationEvent): string {
  return (
    `{"audit":"admin.revocation","time":"${isoTime(Date.now())}"` +
    stringMember('action', e.action, true) +
    stringMember('id', e.id) +
    stringMember('kind', e.kind) +
    (e.until === undefined ? '' : stringMember('until', new Date(e.until).toISOString())) +
    stringMember('by', e.by) +
    `,"shared":${e.shared}` +
    '}\n'
  )
}

export interface McpPathOptions {
  /** The protected location (`config.resource.path`). */
  resourcePath: string
  /** Paths under it that are not MCP calls (metadata, health, `/metrics`). */
  excluded: Iterable<string>
}

/** The MCP calls of a configuration: its protected location, minus what the router serves first. */
export function mcpCallPaths(config: {
  resource: { path: string; metadataPaths: readonly string[] }
  metrics: { onMainPort: boolean }
}): McpPathOptions {
  const served = ['/healthz', '/readyz', ...(config.metrics.onMainPort ? ['/metrics'] : [])]
  return { resourcePath: config.resource.path, excluded: [...config.resource.metadataPaths, ...served] }
}

/**
 * Whether a request path is an MCP call: the protected location and below, as the router decides
 * (docs/architecture.md, step 2), minus the paths served before it. CORS preflights are not calls.
 */
export function createMcpCallFilter(options: McpPathOptions): (e: DecisionEvent) => boolean {
  const base = options.resourcePath === '/' ? '' : options.resourcePath.replace(/\/$/, '')
  const excluded = new Set(options.excluded)
  return (e) =>
    e.httpMethod !== 'OPTIONS' &&
    !excluded.has(e.path) &&
    (e.path === base || e.path === options.resourcePath || (e.path.startsWith(base) && e.path[base.length] === '/'))
}

/** When a record leaves the process (`audit.sync`, `MCP_AUDIT_SYNC`). */
export type AuditSync = 'none' | 'write' | 'fsync'

export interface AuditTrailOptions extends McpPathOptions {
  /** `stdout`, `off`, or a file path (appended, created with its directory). */
  file: string
  /** Default `write`. `fsync` applies to a file; stdout (a pipe or a terminal) is written only. */
  sync?: AuditSync
  /**
   * The process's stdout writer, shared with the logger (src/cli/serve.ts): the lines of both go
   * out in the same writes, and two buffered writers on one pipe could interleave a long write
   * mid-line. Default: a writer of its own on descriptor 1.
   */
  stdout?: Pick<LineWriter, 'write' | 'flushSync'>
}

export interface AuditTrail {
  /** Reopens the file (after logrotate moved it); nothing for stdout. */
  reopen(): void
  /** Unsubscribes and writes out what the file's buffer holds. */
  close(): void
}

/**
 * Subscribes the audit trail to decision events and writes one JSON line per MCP call. In `write`
 * and `fsync` modes the line (and whatever the writer held before it) goes out in the turn's group
 * commit (answer-gate.ts): the pipeline publishes a forwarded call's decision before the answer's
 * last bytes and releases those through the gate, so the record is in the kernel (or on disk)
 * before the client holds the answer. In `none` it is buffered
 * (src/observability/line-writer.ts: out within 50 ms, and on close, reload and exit). The file is
 * opened here, so a path that cannot be written is an error at start; it is appended to
 * (O_APPEND), so several workers may share it.
 */
export function createAuditTrail(options: AuditTrailOptions): AuditTrail {
  if (options.file === 'off') return { reopen() {}, close() {} }
  const toStdout = options.file === 'stdout' || options.file === '-'
  const own = toStdout ? (options.stdout === undefined ? createLineWriter({ fd: 1 }) : undefined) : createLineWriter({ path: options.file })
  const out = own ?? (options.stdout as Pick<LineWriter, 'write' | 'flushSync'>)
  const sync = options.sync ?? 'write'
  const isCall = createMcpCallFilter(options)
  const flush = sync === 'fsync' && own !== undefined ? () => own.fsyncSync() : () => out.flushSync()
  const onDecision = (message: unknown) => {
    const e = message as DecisionEvent
    if (!isCall(e)) return
    out.write(auditLine(e))
    if (sync !== 'none') answerGate.commitBefore(flush)
  }
  events.decision.subscribe(onDecision)
  const onRevocation = (message: unknown) => out.write(revocationLine(message as RevocationEvent))
  events.revocation.subscribe(onRevocation)
  return {
    reopen() {
      own?.reopen()
    },
    close() {
      events.decision.unsubscribe(onDecision)
      events.revocation.unsubscribe(onRevocation)
      own?.end()
    },
  }
}
