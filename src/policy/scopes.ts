/**
 * Scope sets closed under the configured hierarchy (token claims are read in src/token/scopes-claim.ts).
 */

/** The scopes a scope implies, transitively, itself excluded (see `compilePolicy`). */
export type ImpliesClosure = ReadonlyMap<string, ReadonlySet<string>>

/**
 * The scopes held once the hierarchy is applied: every scope plus all it implies (MCP 2026-07-28
 * §Step-Up Authorization Flow: "account for scope hierarchies"). Returns a new set.
 */
export function expandImplied(scopes: Iterable<string>, closure: ImpliesClosure): Set<string> {
  const held = new Set<string>()
  for (const scope of scopes) {
    held.add(scope)
    const implied = closure.get(scope)
    if (implied !== undefined) for (const other of implied) held.add(other)
  }
  return held
}

/**
 * Transitive closure of `implies` (key -> everything it reaches). A cycle is fine: its members
 * simply imply each other. Computed once at startup.
 */
export function impliesClosure(implies: Readonly<Record<string, readonly string[]>>): ImpliesClosure {
  const closure = new Map<string, ReadonlySet<string>>()
  for (const start of Object.keys(implies)) {
    const reached = new Set<string>()
    const stack = [...(implies[start] ?? [])]
    while (stack.length > 0) {
      const scope = stack.pop() as string
      if (scope === start || reached.has(scope)) continue
      reached.add(scope)
      if (Object.hasOwn(implies, scope)) stack.push(...(implies[scope] ?? []))
    }
    if (reached.size > 0) closure.set(start, reached)
  }
  return closure
}

/** The inverse of a closure: scope -> the scopes that imply it, for allocation-free checks per request. */
export function impliedBy(closure: ImpliesClosure): ReadonlyMap<string, readonly string[]> {
  const inverse = new Map<string, string[]>()
  for (const [holder, implied] of closure) {
    for (const scope of implied) {
      const holders = inverse.get(scope)
      if (holders === undefined) inverse.set(scope, [holder])
      else holders.push(holder)
    }
  }
  return inverse
}

/** Whether `granted` holds `scope`, directly or through a broader scope. */
export function holdsScope(
  granted: ReadonlySet<string>,
  scope: string,
  holders: ReadonlyMap<string, readonly string[]>,
): boolean {
  if (granted.has(scope)) return true
  const broader = holders.get(scope)
  if (broader === undefined) return false
  for (const holder of broader) if (granted.has(holder)) return true
  return false
}

/** Whether `granted` holds every scope of `needed` (see `holdsScope`). */
export function holdsAll(
  granted: ReadonlySet<string>,
  needed: readonly string[],
  holders: ReadonlyMap<string, readonly string[]>,
): boolean {
  for (const scope of needed) if (!holdsScope(granted, scope, holders)) return false
  return true
}
