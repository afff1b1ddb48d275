import { InsufficientScope } from '../errors.js'
import type { McpMessage, McpRequest } from '../jsonrpc/mcp-request.js'
import type { Principal } from '../token/principal.js'
import { claimAllowsTool } from './allowed-tools.js'
import { methodScopes, targetScopes, type Policy } from './rules.js'
import { holdsAll } from './scopes.js'

const OFFLINE_ACCESS = 'offline_access'
const TOOL_NOT_ALLOWED = 'The access token does not allow this tool'

/**
 * Decides whether `principal` may send `request`: the required scopes, then the method's, then the
 * target's (tool, prompt or resource; additive), each honouring `implies`, then the tool allowlist
 * claim. A batch is checked message by message and fails closed: one denied message denies it all.
 * Allowed requests cost lookups only; nothing is allocated until a denial is built.
 *
 * The challenge's `scope` names everything the operation needs at once, not only what is missing
 * (MCP 2026-07-28 §Scope Challenge Handling; RFC 6750 §3.1 "the scope necessary"), for a batch the
 * union over its messages, so a client that replaces its scopes on step-up still gets them all.
 *
 * @throws InsufficientScope 403; `reason` is `insufficient_scope`, or `tool_not_allowed` when only
 *   the allowlist claim refused.
 * @example authorize(policy, principal, parseMcpRequest({ body, headers }))
 */
export function authorize(policy: Policy, principal: Principal, request: McpRequest): void {
  let scopesDenied = false
  let toolDenied = false
  for (const message of request.messages) {
    if (!messageScopesHeld(policy, principal, message)) scopesDenied = true
    else if (message.method === 'tools/call' && message.target !== undefined) {
      if (!claimAllowsTool(policy, principal, message.target)) toolDenied = true
    }
  }
  if (!scopesDenied && !toolDenied) return
  const needed = new Set<string>()
  for (const message of request.messages) {
    for (const scope of methodScopes(policy, message.method)) needed.add(scope)
    for (const scope of targetScopes(policy, message.method, message.target)) needed.add(scope)
  }
  const scope = challengeScopes(policy, principal, needed)
  throw scopesDenied ? new InsufficientScope(scope) : new InsufficientScope(scope, TOOL_NOT_ALLOWED, 'tool_not_allowed')
}

/**
 * For requests with no JSON-RPC body (a legacy GET stream or DELETE): the required scopes only.
 *
 * @throws InsufficientScope 403 naming the required scopes.
 */
export function authorizeHttpRequest(policy: Policy, principal: Principal): void {
  if (holdsAll(principal.scopes, policy.required, policy.holders)) return
  throw new InsufficientScope(challengeScopes(policy, principal, policy.required))
}

function messageScopesHeld(policy: Policy, principal: Principal, message: McpMessage): boolean {
  return (
    holdsAll(principal.scopes, methodScopes(policy, message.method), policy.holders) &&
    holdsAll(principal.scopes, targetScopes(policy, message.method, message.target), policy.holders)
  )
}

/**
 * The `scope` of a 403: the scopes the operation needs, minus any that another needed scope implies
 * (the smallest set that allows it), plus the token's own scopes when the compat switch is on for
 * its client. `offline_access` is never named (MCP 2026-07-28 §Refresh Tokens).
 */
export function challengeScopes(policy: Policy, principal: Principal, needed: Iterable<string>): readonly string[] {
  const all = [...new Set(needed)]
  const scope: string[] = []
  for (const candidate of all) {
    if (candidate === OFFLINE_ACCESS) continue
    if (!impliedByOther(policy, candidate, all, scope)) scope.push(candidate)
  }
  const compat = policy.tokenScopesInChallenge
  const clientId = principal.clientId
  if (compat.byDefault || (clientId !== undefined && compat.clients.has(clientId))) {
    for (const held of principal.scopes) {
      if (held !== OFFLINE_ACCESS && !scope.includes(held)) scope.push(held)
    }
  }
  return scope
}

/**
 * Whether another needed scope already covers `candidate`: one strictly broader, or an equivalent
 * one (an `implies` cycle) already kept.
 */
function impliedByOther(policy: Policy, candidate: string, all: readonly string[], kept: readonly string[]): boolean {
  for (const other of all) {
    if (other === candidate || !policy.closure.get(other)?.has(candidate)) continue
    const equivalent = policy.closure.get(candidate)?.has(other) === true
    if (!equivalent || kept.includes(other)) return true
  }
  return false
}
