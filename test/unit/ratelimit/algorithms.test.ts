import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { STEPS, fixedWindow, gcra, tokenBucket, type AlgorithmName, type State, type StepFunction } from '../../../src/ratelimit/algorithms.js'
import type { Limit } from '../../../src/ratelimit/rate.js'

/** Feeds a step function requests at the given times, keeping state as a store would (only on allow). */
function run(step: StepFunction, limit: Limit, times: readonly number[], cost = 1) {
  let state: State | undefined
  let expiresAt = Infinity
  return times.map((now) => {
    const result = step(now >= expiresAt ? undefined : state, now, limit, cost)
    if (result.verdict.allowed) {
      state = result.next
      expiresAt = now + result.ttlMs
    }
    return result.verdict
  })
}

type Row = [now: number, allowed: boolean, remaining: number, resetMs: number, retryAfterMs: number]

function assertRows(step: StepFunction, limit: Limit, rows: readonly Row[]): void {
  const verdicts = run(step, limit, rows.map((r) => r[0]))
  rows.forEach(([now, allowed, remaining, resetMs, retryAfterMs], i) => {
    const v = verdicts[i]!
    assert.deepEqual(
      [now, v.allowed, v.remaining, v.resetMs, v.retryAfterMs],
      [now, allowed, remaining, resetMs, retryAfterMs],
      `request ${i + 1} at t=${now}`,
    )
  })
}

describe('fixed_window (limit = requests + burst per window opened by the first request)', () => {
  test('N requests pass, the N+1th waits for the window to end, then a new window opens', () => {
    assertRows(fixedWindow, { requests: 3, periodMs: 60_000, burst: 0 }, [
      [1000, true, 2, 60_000, 0],
      [2000, true, 1, 59_000, 0],
      [3000, true, 0, 58_000, 0],
      [4000, false, 0, 57_000, 57_000],
      [60_999, false, 0, 1, 1],
      [61_000, true, 2, 60_000, 0],
    ])
  })

  test('burst adds requests to the window', () => {
    const verdicts = run(fixedWindow, { requests: 2, periodMs: 1000, burst: 3 }, [0, 0, 0, 0, 0, 0])
    assert.deepEqual(verdicts.map((v) => v.allowed), [true, true, true, true, true, false])
    assert.equal(verdicts[0]!.limit, 5)
  })

  test('a cost larger than what is left is refused whole and consumes nothing', () => {
    const limit = { requests: 3, periodMs: 1000, burst: 0 }
    const first = fixedWindow(undefined, 0, limit, 2)
    assert.equal(first.verdict.allowed, true)
    const second = fixedWindow(first.next, 10, limit, 2)
    assert.deepEqual([second.verdict.allowed, second.verdict.remaining], [false, 1])
    assert.equal(fixedWindow(first.next, 10, limit, 1).verdict.allowed, true)
  })
})

describe('token_bucket (capacity = requests + burst, refilled at requests/period, starts full)', () => {
  test('drains, refills continuously, and says when the next token comes', () => {
    assertRows(tokenBucket, { requests: 2, periodMs: 1000, burst: 0 }, [
      [0, true, 1, 500, 0],
      [0, true, 0, 1000, 0],
      [0, false, 0, 1000, 500],
      [499, false, 0, 501, 1],
      [500, true, 0, 1000, 0],
      [2000, true, 1, 500, 0],
    ])
  })

  test('burst is extra capacity; the sustained rate stays requests/period', () => {
    const limit = { requests: 1, periodMs: 1000, burst: 2 }
    const verdicts = run(tokenBucket, limit, [0, 0, 0, 0, 1000, 1000])
    assert.deepEqual(verdicts.map((v) => v.allowed), [true, true, true, false, true, false])
    assert.equal(verdicts[0]!.limit, 3)
  })

  test('rates that do not divide the period stay exact (7r/m)', () => {
    const limit = { requests: 7, periodMs: 60_000, burst: 0 }
    const drained = run(tokenBucket, limit, Array.from({ length: 8 }, () => 0))
    assert.deepEqual(drained.map((v) => v.allowed), [true, true, true, true, true, true, true, false])
    // One token per 60000/7 = 8571.43 ms: the wait is rounded up, never down.
    assert.equal(drained[7]!.retryAfterMs, 8572)
  })
})

describe('gcra (one request per period/requests, burst more at once: limit = burst + 1)', () => {
  test('burst + 1 at once, then one per emission interval', () => {
    assertRows(gcra, { requests: 1, periodMs: 1000, burst: 2 }, [
      [0, true, 2, 1000, 0],
      [0, true, 1, 2000, 0],
      [0, true, 0, 3000, 0],
      [0, false, 0, 3000, 1000],
      [999, false, 0, 2001, 1],
      [1000, true, 0, 3000, 0],
      [5000, true, 2, 1000, 0],
    ])
  })

  test('burst 0 spaces requests by period/requests (100r/m: one per 600 ms)', () => {
    const limit = { requests: 100, periodMs: 60_000, burst: 0 }
    const verdicts = run(gcra, limit, [0, 1, 600, 1199, 1200])
    assert.deepEqual(verdicts.map((v) => v.allowed), [true, false, true, false, true])
    assert.deepEqual([verdicts[1]!.retryAfterMs, verdicts[0]!.limit], [599, 1])
  })
})

describe('every algorithm', () => {
  const limits: Limit[] = [
    { requests: 5, periodMs: 1000, burst: 0 },
    { requests: 7, periodMs: 60_000, burst: 3 },
    { requests: 3, periodMs: 10_000, burst: 1 },
  ]
  /** A deterministic pseudo-random sequence, so a failure reproduces. */
  function arrivals(seed: number, count: number, maxGap: number): number[] {
    let x = seed
    let t = 1_700_000_000_000
    return Array.from({ length: count }, () => {
      x = (x * 1103515245 + 12345) % 2 ** 31
      t += x % maxGap
      return t
    })
  }

  for (const name of Object.keys(STEPS) as AlgorithmName[]) {
    const step = STEPS[name]
    test(`${name}: Retry-After is honest: waiting exactly that long is allowed`, () => {
      for (const limit of limits) {
        let state: State | undefined
        for (const now of arrivals(7, 400, limit.periodMs / 4)) {
          const result = step(state, now, limit, 1)
          if (result.verdict.allowed) {
            state = result.next
            continue
          }
          assert.ok(result.verdict.retryAfterMs > 0, 'a denial names a positive wait')
          const later = step(state, now + result.verdict.retryAfterMs, limit, 1)
          assert.equal(later.verdict.allowed, true, `${name} ${JSON.stringify(limit)} at ${now}`)
        }
      }
    })

    test(`${name}: never more than the limit plus the rate over any run`, () => {
      for (const limit of limits) {
        const times = arrivals(11, 2000, Math.max(2, limit.periodMs / 50))
        const verdicts = run(step, limit, times)
        const span = (times.at(-1)! - times[0]!) / limit.periodMs
        const allowed = verdicts.filter((v) => v.allowed).length
        const capacity = verdicts[0]!.limit
        const bound = name === 'fixed_window' ? capacity * (Math.floor(span) + 1) : capacity + limit.requests * span
        assert.ok(allowed <= bound, `${name} ${JSON.stringify(limit)}: ${allowed} allowed > ${bound}`)
        assert.ok(allowed >= limit.requests * Math.floor(span) * 0.9, `${name} lets the sustained rate through (${allowed})`)
        assert.ok(verdicts.some((v) => !v.allowed), 'the run did exceed the limit')
      }
    })
  }
})
