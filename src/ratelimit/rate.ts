import { z } from 'zod'

/** A rate: at most `requests` per `periodMs`, the shape every algorithm is configured with. */
export interface Rate {
  readonly requests: number
  readonly periodMs: number
}

/** A rate plus the headroom above it; what `burst` means depends on the algorithm (see algorithms.ts). */
export interface Limit extends Rate {
  readonly burst: number
}

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const
// nginx-ratelimit's `rate=<N>r/<s|m|h>`, plus an optional count before the unit (`50r/30s`).
const RATE = /^(\d+)r\/(\d+)?([smhd])$/
/** Bounds keep the token bucket's scaled integers (capacity x period) exact in doubles and Lua. */
export const MAX_REQUESTS = 1_000_000
export const MAX_PERIOD_MS = UNIT_MS.d

/** Parses `100r/m`, `10r/s`, `1000r/h`, `50r/30s`; returns a message when it cannot. */
export function parseRate(text: string): Rate | string {
  const match = RATE.exec(text.trim())
  if (match === null) return `expected a rate like 100r/m, 10r/s, 1000r/h or 50r/30s (got "${text}")`
  const requests = Number(match[1])
  const periodMs = Number(match[2] ?? 1) * UNIT_MS[match[3] as keyof typeof UNIT_MS]
  if (requests < 1 || requests > MAX_REQUESTS) return `the request count must be 1 to ${MAX_REQUESTS} (got "${text}")`
  if (periodMs < 1000 || periodMs > MAX_PERIOD_MS) return `the period must be 1s to 1d (got "${text}")`
  return { requests, periodMs }
}

/** Prints a rate back in the form it is configured with, for notices and docs. */
export function formatRate(rate: Rate): string {
  for (const [unit, ms] of Object.entries(UNIT_MS).reverse()) {
    if (rate.periodMs % ms === 0) {
      const count = rate.periodMs / ms
      return `${rate.requests}r/${count === 1 ? '' : count}${unit}`
    }
  }
  return `${rate.requests}r/${rate.periodMs / 1000}s`
}

export const rateSchema = z.string().transform((value, ctx) => {
  const rate = parseRate(value)
  if (typeof rate === 'string') {
    ctx.addIssue({ code: 'custom', message: rate })
    return z.NEVER
  }
  return rate
})
