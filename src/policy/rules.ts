import type { ScopesConfig } from './scopes-schema.js'
import { impliedBy, impliesClosure, type ImpliesClosure } from './scopes.js'

/** What a list method lists; also the key of the array in its result. */
export type ListKind = 'tools' | 'prompts' | 'resources' | 'resourceTemplates'

/** How a list's entries map onto the call that uses them (schema `ListToolsResult`, ...). */
export interface ListRule {
  readonly kind: ListKind
  /** The method whose scopes an entry needs to be usable (`tools/call` for a tool). */
  readonly useMethod: string
  /** The entry field naming it (`name`, `uri`, `uriTemplate`). */
  readonly entryKey: 'name' | 'uri' | 'uriTemplate'
  /** Whether some caller who may list could see fewer entries than another (beyond `required`). */
  readonly mayVary: boolean
  /** Every scope, beyond `required`, that any entry of this list could need. */
  readonly everyScope: readonly string[]
}

/** List methods and their kinds. `resources/templates/list` entries are matched by their template text. */
export const LIST_METHODS: ReadonlyMap<string, ListKind> = new Map<string, ListKind>([
  ['tools/list', 'tools'],
  ['prompts/list', 'prompts'],
  ['resources/list', 'resources'],
  ['resources/templates/list', 'resourceTemplates'],
])

interface TargetRules {
  readonly byName: ReadonlyMap<string, readonly string[]>
  /** The `*` entry: for names without their own. */
  readonly fallback: readonly string[]
}

interface ResourceRules {
  readonly exact: ReadonlyMap<string, readonly string[]>
  /** Prefix rules, longest prefix first, so the first match is the most specific. */
  readonly prefixes: readonly { readonly prefix: string; readonly scopes: readonly string[] }[]
}

/** The `scopes:` section compiled into lookups, once at startup. Read it through the functions below. */
export interface Policy {
  /** Scopes every request needs. */
  readonly required: readonly string[]
  /** `scopes_supported` for the protected resource metadata (never `offline_access`). */
  readonly scopesSupported: readonly string[]
  /** `scope` of the 401 sent when no token is presented: the `required` scopes. */
  readonly challengeScope: readonly string[]
  readonly filterLists: boolean
  /** Claim carrying the tool allowlist, or `undefined` when the feature is off. */
  readonly allowedToolsClaim: string | undefined
  readonly closure: ImpliesClosure
  /** Scope -> the broader scopes implying it. */
  readonly holders: ReadonlyMap<string, readonly string[]>
  /** Method -> `required` plus the method's scopes. */
  readonly methods: ReadonlyMap<string, readonly string[]>
  /** `required` plus the `*` method scopes, for methods without an entry. */
  readonly otherMethods: readonly string[]
  readonly tools: TargetRules
  readonly prompts: TargetRules
  readonly resources: ResourceRules
  readonly tokenScopesInChallenge: { readonly byDefault: boolean; readonly clients: ReadonlySet<string> }
  readonly lists: Readonly<Record<ListKind, ListRule>>
}

const NONE: readonly string[] = Object.freeze([])
const OFFLINE_ACCESS = 'offline_access'

function unique(...lists: readonly (readonly string[] | undefined)[]): readonly string[] {
  const set = new Set<string>()
  for (const list of lists) if (list !== undefined) for (const scope of list) set.add(scope)
  return set.size === 0 ? NONE : Object.freeze([...set])
}

function compileTargets(rules: Readonly<Record<string, readonly string[]>>): TargetRules {
  const byName = new Map<string, readonly string[]>()
  for (const [name, scopes] of Object.entries(rules)) if (name !== '*') byName.set(name, unique(scopes))
  return { byName, fallback: unique(rules['*']) }
}

function compileResources(rules: Readonly<Record<string, readonly string[]>>): ResourceRules {
  const exact = new Map<string, readonly string[]>()
  const prefixes: { prefix: string; scopes: readonly string[] }[] = []
  for (const [pattern, scopes] of Object.entries(rules)) {
    if (pattern.endsWith('*')) prefixes.push({ prefix: pattern.slice(0, -1), scopes: unique(scopes) })
    else exact.set(pattern, unique(scopes))
  }
  prefixes.sort((a, b) => b.prefix.length - a.prefix.length)
  return { exact, prefixes }
}

/**
 * Compiles the validated `scopes:` section: the `implies` closure and its inverse, and per method,
 * tool, prompt and resource the scope lists, so a request costs only map lookups.
 *
 * @example const policy = compilePolicy(config.scopes)
 */
export function compilePolicy(config: ScopesConfig): Policy {
  const required = unique(config.required)
  const methods = new Map<string, readonly string[]>()
  for (const [method, scopes] of Object.entries(config.methods)) {
    if (method !== '*') methods.set(method, unique(required, scopes))
  }
  const closure = impliesClosure(config.implies)
  const compat = config.challengeIncludesTokenScopes
  const partial = {
    required,
    challengeScope: required,
    filterLists: config.filterLists,
    allowedToolsClaim: config.allowedToolsClaim === false ? undefined : config.allowedToolsClaim,
    closure,
    holders: impliedBy(closure),
    methods,
    otherMethods: unique(required, config.methods['*']),
    tools: compileTargets(config.tools),
    prompts: compileTargets(config.prompts),
    resources: compileResources(config.resources),
    tokenScopesInChallenge:
      typeof compat === 'boolean'
        ? { byDefault: compat, clients: new Set<string>() }
        : { byDefault: compat.default, clients: new Set(compat.clients) },
  }
  const named = unique(
    config.required,
    ...Object.values(config.methods),
    ...Object.values(config.tools),
    ...Object.values(config.prompts),
    ...Object.values(config.resources),
    ...Object.entries(config.implies).flatMap(([key, values]) => [[key], values]),
  )
  const listRule = (kind: ListKind, useMethod: string, entryKey: ListRule['entryKey'], rules: readonly (readonly string[])[]) => {
    const everyScope = unique(partial.methods.get(useMethod) ?? partial.otherMethods, ...rules).filter(
      (scope) => !required.includes(scope),
    )
    const mayVary = everyScope.length > 0 || (kind === 'tools' && partial.allowedToolsClaim !== undefined)
    return { kind, useMethod, entryKey, mayVary, everyScope }
  }
  const resourceRules = [...Object.values(config.resources)]
  return {
    ...partial,
    scopesSupported: (config.supported ?? named).filter((scope) => scope !== OFFLINE_ACCESS),
    lists: {
      tools: listRule('tools', 'tools/call', 'name', Object.values(config.tools)),
      prompts: listRule('prompts', 'prompts/get', 'name', Object.values(config.prompts)),
      resources: listRule('resources', 'resources/read', 'uri', resourceRules),
      resourceTemplates: listRule('resourceTemplates', 'resources/read', 'uriTemplate', resourceRules),
    },
  }
}

/** `required` plus the method's scopes (`*` for a method without an entry); `required` alone for a response. */
export function methodScopes(policy: Policy, method: string | undefined): readonly string[] {
  if (method === undefined) return policy.required
  return policy.methods.get(method) ?? policy.otherMethods
}

/** The scopes a resource URI adds: the exact rule, else the longest matching prefix, else none. */
export function resourceScopes(policy: Policy, uri: string): readonly string[] {
  const exact = policy.resources.exact.get(uri)
  if (exact !== undefined) return exact
  for (const rule of policy.resources.prefixes) if (uri.startsWith(rule.prefix)) return rule.scopes
  return NONE
}

/** The scopes a call's target adds to its method's (per tool, prompt or resource; additive). */
export function targetScopes(policy: Policy, method: string | undefined, target: string | undefined): readonly string[] {
  if (target === undefined) return NONE
  switch (method) {
    case 'tools/call':
      return policy.tools.byName.get(target) ?? policy.tools.fallback
    case 'prompts/get':
      return policy.prompts.byName.get(target) ?? policy.prompts.fallback
    case 'resources/read':
    case 'resources/subscribe':
    case 'resources/unsubscribe':
      return resourceScopes(policy, target)
    default:
      return NONE
  }
}
