import type { McpRequest } from '../jsonrpc/mcp-request.js'
import { featuresOf, type ProtocolVersion } from '../jsonrpc/protocol-version.js'
import type { Principal } from '../token/principal.js'
import { toolAllowlist } from './allowed-tools.js'
import { LIST_METHODS, methodScopes, type ListKind, type ListRule, type Policy } from './rules.js'
import { entryNameAllowed } from './list-entry.js'
import { holdsAll } from './scopes.js'
import { spliceJsonList } from './splice-list.js'

/** How one list is rewritten for this caller: `all` keeps every entry, `none` drops them all. */
type ListMode = 'all' | 'none' | 'check'

/** What to rewrite in the responses to one POST's list requests. Built by `listFilterFor`. */
export interface ListFilter {
  readonly policy: Policy
  readonly principal: Principal
  /** JSON-RPC id of each list request -> what it lists. */
  readonly requests: ReadonlyMap<string | number, ListKind>
  readonly modes: Readonly<Record<ListKind, ListMode>>
  /** The tool allowlist claim, `undefined` when the token is not restricted. */
  readonly allowedTools: ReadonlySet<string> | undefined
}

type JsonObject = Record<string, unknown>

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * The filter for this request's list responses, or `undefined` when the responses can stream
 * through untouched: `filterLists` off, no list request, or nothing to hide from this caller. A
 * 2026-07-28 list that could differ between callers is still filtered for a caller who sees it all,
 * to mark it `cacheScope: "private"`: a shared cache must not hand the complete list to a caller who
 * may see less (server/utilities/caching §Choosing a Scope; research §4).
 *
 * Call it only after `authorize` allowed the request: the `required` scopes are taken as held.
 */
export function listFilterFor(policy: Policy, principal: Principal, request: McpRequest): ListFilter | undefined {
  if (!policy.filterLists) return undefined
  let requests: Map<string | number, ListKind> | undefined
  for (const message of request.messages) {
    if (message.kind !== 'request' || message.method === undefined || message.id === undefined) continue
    const kind = LIST_METHODS.get(message.method)
    if (kind === undefined) continue
    requests ??= new Map()
    requests.set(message.id, kind)
  }
  if (requests === undefined) return undefined

  const view = listViewOf(policy, principal)
  const markPrivate = featuresOf(request.version).cacheScope
  let needed = false
  for (const kind of requests.values()) {
    if (view.modes[kind] !== 'all' || (markPrivate && policy.lists[kind].mayVary)) needed = true
  }
  return needed ? { policy, principal, requests, modes: view.modes, allowedTools: view.allowedTools } : undefined
}

/** How each list shows to one principal under one policy. */
interface ListView {
  readonly policy: Policy
  readonly modes: Readonly<Record<ListKind, ListMode>>
  readonly allowedTools: ReadonlySet<string> | undefined
}

/**
 * Verified principals are cached per token (src/token), so the same object comes back request after
 * request: its list modes are worked out once and kept beside it, for as long as it lives.
 */
const listViews = new WeakMap<Principal, ListView>()

function listViewOf(policy: Policy, principal: Principal): ListView {
  const known = listViews.get(principal)
  if (known !== undefined && known.policy === policy) return known
  const allowedTools = toolAllowlist(policy, principal)
  const mode = (kind: ListKind) => modeFor(policy, principal, policy.lists[kind], allowedTools)
  const modes = { tools: mode('tools'), prompts: mode('prompts'), resources: mode('resources'), resourceTemplates: mode('resourceTemplates') }
  const view = { policy, modes, allowedTools }
  listViews.set(principal, view)
  return view
}

function modeFor(policy: Policy, principal: Principal, rule: ListRule, allowedTools: ReadonlySet<string> | undefined): ListMode {
  if (!holdsAll(principal.scopes, methodScopes(policy, rule.useMethod), policy.holders)) return 'none'
  if (rule.kind === 'tools' && allowedTools !== undefined) return 'check'
  return holdsAll(principal.scopes, rule.everyScope, policy.holders) ? 'all' : 'check'
}

function entryAllowed(filter: ListFilter, rule: ListRule, entry: unknown): boolean {
  if (!isObject(entry)) return false
  const key = entry[rule.entryKey]
  // An entry that cannot be judged is dropped (fail closed).
  if (typeof key !== 'string') return false
  return entryNameAllowed(filter, rule, key)
}

/**
 * Rewrites one JSON-RPC response if it answers one of the filter's list requests: drops the entries
 * the caller may not use, keeps their order and every other field (`nextCursor`, `ttlMs`,
 * `resultType`, `_meta`), and sets `cacheScope: "private"` where `version` has the field. Returns the
 * new response, or `undefined` when the response is not one to rewrite (or nothing changed). The
 * input is not modified.
 */
export function filterJsonRpcResponse(filter: ListFilter, response: unknown, version: ProtocolVersion): JsonObject | undefined {
  if (!isObject(response) || response.method !== undefined) return undefined
  const id = response.id
  if (typeof id !== 'string' && typeof id !== 'number') return undefined
  const kind = filter.requests.get(id)
  const result = response.result
  if (kind === undefined || !isObject(result)) return undefined
  const entries = result[kind]
  if (!Array.isArray(entries)) return undefined
  const rule = filter.policy.lists[kind]
  const mode = filter.modes[kind]
  const kept = mode === 'all' ? entries : mode === 'none' ? [] : entries.filter((entry) => entryAllowed(filter, rule, entry))
  const markPrivate = featuresOf(version).cacheScope
  if (kept.length === entries.length && !markPrivate) return undefined
  const rewritten: JsonObject = { ...result, [kind]: kept }
  if (markPrivate) rewritten.cacheScope = 'private'
  return { ...response, result: rewritten }
}

/**
 * Rewrites an `application/json` response body (one object, or a batch array) through
 * `filterJsonRpcResponse`. Returns `body` itself when nothing changed. A body that is not JSON
 * cannot be filtered, so it is refused (fail closed): it could still name what the caller may not see.
 * Most bodies are rewritten by cutting bytes (`spliceJsonList`, same result without parsing into
 * objects); the rest are parsed and serialized again.
 *
 * @throws Error when the body is not JSON.
 */
export function filterJsonBody(filter: ListFilter, body: Buffer, version: ProtocolVersion): Buffer {
  return spliceJsonList(filter, body, version) ?? rewriteJsonBody(filter, body, version)
}

/** `filterJsonBody` by JSON.parse, `rewriteParsed` and JSON.stringify: decides every body. */
export function rewriteJsonBody(filter: ListFilter, body: Buffer, version: ProtocolVersion): Buffer {
  let value: unknown
  try {
    value = JSON.parse(body.toString('utf8'))
  } catch {
    throw new Error('a list response to filter is not JSON')
  }
  const rewritten = rewriteParsed(filter, value, version)
  return rewritten === undefined ? body : Buffer.from(JSON.stringify(rewritten), 'utf8')
}

/** The rewritten value of a parsed message or batch, or `undefined` when nothing changed. */
export function rewriteParsed(filter: ListFilter, value: unknown, version: ProtocolVersion): unknown {
  if (!Array.isArray(value)) return filterJsonRpcResponse(filter, value, version)
  let changed = false
  const out = value.map((item) => {
    const rewritten = filterJsonRpcResponse(filter, item, version)
    if (rewritten === undefined) return item
    changed = true
    return rewritten
  })
  return changed ? out : undefined
}
