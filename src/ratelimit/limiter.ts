import { events, type RateLimitEvent } from '../observability/events.js'
import type { RedisConfig } from '../state/redis-config.js'
import type { McpCall } from '../jsonrpc/mcp-call.js'
import type { Principal } from '../token/principal.js'
import { RateLimitExceeded, RateLimitUnavailable } from './errors.js'
import { bindingVerdict, rateLimitHeaders, seconds, type PolicyVerdict } from './headers.js'
import { clientKey, principalKey, storeKey } from './key.js'
import { createMemoryStore } from './memory-store.js'
import type { Limit } from './rate.js'
import { createRedisStore } from './redis-store.js'
import { redisConfigOf, type RateLimitSettings } from './settings.js'
import { StoreUnavailable, type LimitCheck, type RateLimitStore } from './store.js'

/** The pipeline's `admit` hook (step 7). */
export interface RateLimiter {
  /**
   * Resolves, when every limit allows the call, with the `RateLimit-*` headers the forwarded
   * response carries; throws 429 `RateLimitExceeded` (with those headers), 401 or 503.
   */
  (principal: Principal, call: McpCall | undefined): Promise<Record<string, string>>
  /** The same as calling the limiter. */
  check(principal: Principal, call: McpCall | undefined): Promise<Record<string, string>>
  readonly store: RateLimitStore
  close(): Promise<void>
}

export interface RateLimiterOptions {
  /** Replaces the store built from the configuration (tests: a memory store on a fake clock). */
  store?: RateLimitStore
}

const DEFAULT_POLICY = 'default'
const CLIENT_POLICY = 'client'

/**
 * Builds the rate limiter from `config.rateLimit`, or returns undefined when it is off. Runs after
 * authentication and authorization, so a bad token is a 401 and a missing scope a 403, never 429
 * (nginx-mcp-resource N41). Counted per principal: the global rate per HTTP request, each per-tool
 * rate per `tools/call` of that tool in the body (a batch cannot slip calls past it).
 */
export function createRateLimiter(
  config: { readonly rateLimit: RateLimitSettings; readonly redis?: RedisConfig | undefined },
  options: RateLimiterOptions = {}): RateLimiter | undefined {
  const settings = config.rateLimit
  if (!settings.enabled) return undefined
  const store = options.store ?? buildStore(settings, config.redis)

  async function check(principal: Principal, call: McpCall | undefined): Promise<Record<string, string>> {
    const who = principalKey(principal, settings.missingSubject)
    const client = settings.perClient === undefined ? undefined : clientKey(principal)
    const policies = policiesFor(settings, call, client !== undefined)
    if (policies.length === 0) return {}
    const checks: LimitCheck[] = policies.map(({ policy, limit, cost }) => ({
      key: storeKey(settings.prefix, policy === CLIENT_POLICY ? (client as string) : who, policy, store.algorithm, limit),
      limit,
      cost,
    }))

    let verdicts
    try {
      verdicts = await store.consume(checks)
    } catch (error) {
      // Only an outage may fail open; a Redis error reply means a broken setup and always denies.
      const open = settings.onError === 'allow' && error instanceof StoreUnavailable
      publish({ outcome: open ? 'store_failed_open' : 'store_failed_closed', policy: undefined, issuer: principal.issuer, retryAfter: undefined })
      if (open) return {}
      throw new RateLimitUnavailable(error)
    }

    const results: PolicyVerdict[] = policies.map(({ policy, limit }, i) => ({ policy, limit, verdict: verdicts[i]! }))
    const headers = rateLimitHeaders(results)
    const binding = bindingVerdict(results)
    if (binding !== undefined && !binding.verdict.allowed) {
      const retryAfter = Math.max(1, seconds(binding.verdict.retryAfterMs))
      publish({ outcome: 'limited', policy: binding.policy, issuer: principal.issuer, retryAfter })
      throw new RateLimitExceeded(retryAfter, { ...headers, 'retry-after': String(retryAfter) }, binding.policy)
    }
    return headers
  }

  function publish(event: Omit<RateLimitEvent, 'algorithm' | 'store'>): void {
    if (events.rateLimit.hasSubscribers) {
      events.rateLimit.publish({ ...event, algorithm: store.algorithm, store: store.kind } satisfies RateLimitEvent)
    }
  }

  const admit = (principal: Principal, call: McpCall | undefined): Promise<Record<string, string>> => check(principal, call)
  return Object.assign(admit, { check, store, close: () => store.close() })
}

/**
 * Counters live in the rate limiter's own Redis (`MCP_RATELIMIT_REDIS`) when one is named, else in
 * the gateway's shared Redis (`MCP_REDIS_URL`) when there is one, else in this process's memory.
 * Either Redis is reached through the one client factory (src/state/redis-client.ts).
 */
function buildStore(settings: RateLimitSettings, shared: RedisConfig | undefined): RateLimitStore {
  const algorithm = settings.algorithm
  if (settings.redis !== undefined) {
    return createRedisStore({ algorithm, redis: redisConfigOf(settings.redis, settings.redisPassword, settings.redisTimeoutMs) })
  }
  // Counter keys carry `rateLimit.prefix` themselves; the rate limiter's own timeout applies.
  if (shared !== undefined) return createRedisStore({ algorithm, redis: { ...shared, keyPrefix: '', commandTimeout: settings.redisTimeoutMs } })
  return createMemoryStore({ algorithm })
}

interface Policy {
  policy: string
  limit: Limit
  cost: number
}

/**
 * The limits this call is subject to, with what it costs against each: `default` (per principal,
 * one per HTTP request), `client` (per OAuth client, one per request; only for a token naming its
 * client), `method:<name>` and `tool:<name>` (per principal, one per message of that method or
 * call of that tool in the body).
 */
export function policiesFor(
  settings: Pick<RateLimitSettings, 'limit' | 'tools'> & Partial<Pick<RateLimitSettings, 'methods' | 'perClient'>>,
  call: McpCall | undefined,
  hasClient = false,
): Policy[] {
  const policies: Policy[] = []
  if (settings.limit !== undefined) policies.push({ policy: DEFAULT_POLICY, limit: settings.limit, cost: 1 })
  if (settings.perClient !== undefined && hasClient) policies.push({ policy: CLIENT_POLICY, limit: settings.perClient, cost: 1 })
  const methods = settings.methods
  if ((settings.tools.size === 0 && (methods === undefined || methods.size === 0)) || call === undefined) return policies
  const perMethod = new Map<string, number>()
  const calls = new Map<string, number>()
  for (const message of call.request.messages) {
    if (message.method !== undefined && methods?.has(message.method) === true) perMethod.set(message.method, (perMethod.get(message.method) ?? 0) + 1)
    if (message.method !== 'tools/call' || message.target === undefined || !settings.tools.has(message.target)) continue
    calls.set(message.target, (calls.get(message.target) ?? 0) + 1)
  }
  for (const [method, cost] of perMethod) policies.push({ policy: `method:${method}`, limit: methods?.get(method) as Limit, cost })
  for (const [tool, cost] of calls) policies.push({ policy: `tool:${tool}`, limit: settings.tools.get(tool) as Limit, cost })
  return policies
}
