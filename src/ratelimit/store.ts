import type { AlgorithmName, Verdict } from './algorithms.js'
import type { Limit } from './rate.js'

/** One limit a request must pass: the per-principal rate, or a per-tool one. */
export interface LimitCheck {
  /** Store key (already namespaced and hashed; never holds a token or a raw claim). */
  readonly key: string
  readonly limit: Limit
  /** Units this request consumes (1 per request; per tool, the number of calls to that tool). */
  readonly cost: number
}

/**
 * Where counters live. `consume` is all-or-nothing: when any check denies, nothing is consumed
 * (so a request refused by a per-tool limit does not also spend the principal's budget), and the
 * verdicts come back in the order of the checks.
 */
export interface RateLimitStore {
  readonly kind: 'memory' | 'redis'
  readonly algorithm: AlgorithmName
  consume(checks: readonly LimitCheck[]): Promise<Verdict[]>
  close(): Promise<void>
}

/** The store could not reach a verdict because its backend is unreachable or slow (not a bug). */
export class StoreUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'StoreUnavailable'
  }
}
