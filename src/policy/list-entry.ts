import type { ListFilter } from './filter-list.js'
import { targetScopes, type ListRule } from './rules.js'
import { holdsAll } from './scopes.js'

/**
 * Whether the caller may see the list entry named `name` (a tool's or prompt's `name`, a
 * resource's `uri`, a template's `uriTemplate`): the tool allowlist claim for tools, then the
 * scopes the entry's use needs. The one decision both ways of filtering a list make (the parsed
 * rewrite in filter-list.ts, the byte splice in splice-list.ts).
 */
export function entryNameAllowed(filter: ListFilter, rule: ListRule, name: string): boolean {
  if (rule.kind === 'tools' && filter.allowedTools !== undefined && !filter.allowedTools.has(name)) return false
  const { policy, principal } = filter
  return holdsAll(principal.scopes, targetScopes(policy, rule.useMethod, name), policy.holders)
}
