import { STEPS, type AlgorithmName, type State, type Step, type Verdict } from './algorithms.js'
import type { LimitCheck, RateLimitStore } from './store.js'

export interface MemoryStoreOptions {
  algorithm: AlgorithmName
  /** Milliseconds since the epoch; injected by tests. */
  now?: () => number
  /**
   * Most keys kept. Past it the least recently used key is dropped, which gives that principal a
   * fresh budget: keys come only from verified tokens, so reaching it needs that many real subjects.
   */
  maxKeys?: number
}

interface Entry {
  state: State
  expiresAt: number
}

const DEFAULT_MAX_KEYS = 100_000
/** Expired entries are swept every this many consumes, so memory follows the active principals. */
const SWEEP_EVERY = 1024

/**
 * Counters in this process. Correct for one process only: with several workers or replicas each
 * counts on its own (use Redis). JavaScript runs one `consume` at a time, so it is atomic as is.
 */
export function createMemoryStore(options: MemoryStoreOptions): RateLimitStore {
  const step = STEPS[options.algorithm]
  const now = options.now ?? Date.now
  const maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS
  const entries = new Map<string, Entry>()
  let calls = 0

  function sweep(at: number): void {
    for (const [key, entry] of entries) if (entry.expiresAt <= at) entries.delete(key)
  }

  return {
    kind: 'memory',
    algorithm: options.algorithm,
    async consume(checks: readonly LimitCheck[]): Promise<Verdict[]> {
      const at = now()
      if (++calls % SWEEP_EVERY === 0) sweep(at)
      const steps: Step[] = checks.map((check) => {
        const entry = entries.get(check.key)
        const state = entry === undefined || entry.expiresAt <= at ? undefined : entry.state
        return step(state, at, check.limit, check.cost)
      })
      if (steps.every((s) => s.verdict.allowed)) {
        checks.forEach((check, i) => {
          const { next, ttlMs } = steps[i] as Step
          // Delete first so re-insertion moves the key to the end: Map order is the LRU order.
          entries.delete(check.key)
          entries.set(check.key, { state: next, expiresAt: at + ttlMs })
        })
        while (entries.size > maxKeys) entries.delete(entries.keys().next().value as string)
      }
      return steps.map((s) => s.verdict)
    },
    async close() {
      entries.clear()
    },
  }
}
