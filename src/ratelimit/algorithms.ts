import type { Limit } from './rate.js'

/**
 * The three algorithms of nginx-ratelimit (the module behind nginx-mcp-resource's
 * `MCP_RATELIMIT_ALGO`), with its meaning of `limit` and `burst` so a deployment that switches
 * keeps its numbers:
 *
 *   fixed_window   limit = requests + burst, counted in a window of `period` opened by the first
 *                  request; up to 2 x limit can pass across a window boundary (the classic trade-off)
 *   token_bucket   capacity = requests + burst, refilled at requests/period; a new bucket is full
 *   gcra           one request every period/requests with `burst` extra at once: limit = burst + 1
 *
 * Each is a pure step: (state, now, limit, cost) -> verdict and next state. The Redis store runs
 * the same arithmetic in Lua (redis-scripts.ts) in the same order, so both stores agree to the
 * millisecond; the unit tests hold them to that. Denied requests consume nothing.
 */

export type AlgorithmName = 'fixed_window' | 'token_bucket' | 'gcra'
export const ALGORITHMS: readonly AlgorithmName[] = ['fixed_window', 'token_bucket', 'gcra']

export interface Verdict {
  readonly allowed: boolean
  /** The most this principal can send at once (`X-RateLimit-Limit`). */
  readonly limit: number
  /** What is left after this request (`X-RateLimit-Remaining`). */
  readonly remaining: number
  /** Milliseconds until the limit is whole again (`X-RateLimit-Reset`, in seconds on the wire). */
  readonly resetMs: number
  /** Milliseconds until this request would pass; 0 when allowed (`Retry-After`). */
  readonly retryAfterMs: number
}

/** Two numbers of state per key: what they mean is the algorithm's business. */
export type State = readonly [number, number]

export interface Step {
  readonly verdict: Verdict
  /** The state to store when every limit of the request allowed it. */
  readonly next: State
  /** After this many milliseconds the state equals a fresh one, so it may be dropped. */
  readonly ttlMs: number
}

export type StepFunction = (state: State | undefined, now: number, limit: Limit, cost: number) => Step

/** State [count, windowEnd]. */
export function fixedWindow(state: State | undefined, now: number, limit: Limit, cost: number): Step {
  const capacity = limit.requests + limit.burst
  let [count, windowEnd] = state ?? [0, 0]
  if (now >= windowEnd) {
    count = 0
    windowEnd = now + limit.periodMs
  }
  const resetMs = windowEnd - now
  if (count + cost > capacity) {
    const verdict = { allowed: false, limit: capacity, remaining: Math.max(0, capacity - count), resetMs, retryAfterMs: resetMs }
    return { verdict, next: [count, windowEnd], ttlMs: resetMs }
  }
  count += cost
  return {
    verdict: { allowed: true, limit: capacity, remaining: capacity - count, resetMs, retryAfterMs: 0 },
    next: [count, windowEnd],
    ttlMs: resetMs,
  }
}

/**
 * State [tokens x period, last refill time]. Tokens are kept multiplied by the period in ms so
 * that refilling `requests` per `period` adds exactly `requests` units per millisecond: integer
 * arithmetic, no drift, identical in JavaScript and Lua.
 */
export function tokenBucket(state: State | undefined, now: number, limit: Limit, cost: number): Step {
  const capacity = limit.requests + limit.burst
  const full = capacity * limit.periodMs
  const need = cost * limit.periodMs
  let tokens = full
  if (state !== undefined) {
    const elapsed = Math.max(0, now - state[1])
    tokens = Math.min(full, state[0] + elapsed * limit.requests)
  }
  const allowed = tokens >= need
  if (allowed) tokens -= need
  const resetMs = Math.ceil((full - tokens) / limit.requests)
  const verdict: Verdict = {
    allowed,
    limit: capacity,
    remaining: Math.floor(tokens / limit.periodMs),
    resetMs,
    retryAfterMs: allowed ? 0 : Math.ceil((need - tokens) / limit.requests),
  }
  return { verdict, next: [tokens, now], ttlMs: Math.max(1, resetMs) }
}

// Floors of quotients that are whole in exact arithmetic (2T / T) must not land one below.
const EPSILON = 1e-9

/**
 * Generic cell rate algorithm (ITU-T I.371): state [theoretical arrival time, 0]. Each request
 * moves the TAT by the emission interval T = period/requests; a request passes while the TAT
 * stays within (burst + 1) x T of now.
 */
export function gcra(state: State | undefined, now: number, limit: Limit, cost: number): Step {
  const interval = limit.periodMs / limit.requests
  const tolerance = (limit.burst + 1) * interval
  const tat = Math.max(state?.[0] ?? now, now)
  const newTat = tat + cost * interval
  const allowAt = newTat - tolerance
  const allowed = now >= allowAt
  const after = allowed ? newTat : tat
  const verdict: Verdict = {
    allowed,
    limit: limit.burst + 1,
    remaining: Math.max(0, Math.floor((tolerance - (after - now)) / interval + EPSILON)),
    resetMs: Math.ceil(after - now),
    retryAfterMs: allowed ? 0 : Math.ceil(allowAt - now),
  }
  return { verdict, next: [after, 0], ttlMs: Math.max(1, Math.ceil(after - now)) }
}

export const STEPS: Readonly<Record<AlgorithmName, StepFunction>> = {
  fixed_window: fixedWindow,
  token_bucket: tokenBucket,
  gcra,
}
