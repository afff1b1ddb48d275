import type { Principal } from '../token/principal.js'
import type { Policy } from './rules.js'

/**
 * The tool allowlist claim (`mcp_allowed_tools` by default; the name is configurable). A token
 * without the claim is not restricted. A token with it may use only the listed tools: an array of
 * names, or a space-separated string. Any other value (null, a number, an object) allows no tool:
 * a claim that is present but unreadable fails closed. An empty list allows no tool either: an
 * empty allowlist is not "no restriction".
 */
export function claimAllowsTool(policy: Policy, principal: Principal, tool: string): boolean {
  if (policy.allowedToolsClaim === undefined) return true
  const value = principal.claims[policy.allowedToolsClaim]
  if (value === undefined) return true
  if (Array.isArray(value)) return value.includes(tool)
  if (typeof value === 'string') return value.split(' ').includes(tool)
  return false
}

/** The allowlist as a set for filtering a whole list; `undefined` when the token is not restricted. */
export function toolAllowlist(policy: Policy, principal: Principal): ReadonlySet<string> | undefined {
  if (policy.allowedToolsClaim === undefined) return undefined
  const value = principal.claims[policy.allowedToolsClaim]
  if (value === undefined) return undefined
  const allowed = new Set<string>()
  if (Array.isArray(value)) {
    for (const item of value) if (typeof item === 'string') allowed.add(item)
  } else if (typeof value === 'string') {
    for (const item of value.split(' ')) if (item !== '') allowed.add(item)
  }
  return allowed
}
