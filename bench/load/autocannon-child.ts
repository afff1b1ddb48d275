import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { headersPerSend, percentile, type LoadResult, type LoadSpec } from './load-spec.js'

/**
 * Runs autocannon in a process of its own (it takes most of a core at 64 connections, which must
 * not be charged to the process under test) and prints one JSON `LoadResult` line.
 *
 * autocannon's own latency histogram has a 1 ms floor, too coarse for a 0.3 ms target, so every
 * 2xx response time (hrtime-based, fractional ms) is recorded here and percentiles are exact.
 */
interface AutocannonResult {
  duration: number
  errors: number
}
interface Tracker {
  on(event: 'response', listener: (client: unknown, statusCode: number, bytes: number, ms: number) => void): void
}
type Autocannon = ((options: object, done: (error: Error | null, result: AutocannonResult) => void) => Tracker) & {
  track?: unknown
}

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon
const spec = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as LoadSpec

let samples = new Float64Array(1 << 16)
let okCount = 0
let responses = 0
let non2xx = 0
const cpuBefore = process.cpuUsage()
const tracker = autocannon(
  {
    url: spec.origin,
    connections: spec.connections,
    duration: spec.durationSeconds,
    pipelining: 1,
    timeout: 10,
    requests: spec.requests.map((r) => {
      const request = { method: r.method, path: r.path, headers: r.headers, body: r.body }
      if (r.dpopProofs === undefined) return request
      // A fresh proof on every build of this entry, whichever connection builds it.
      const headers = headersPerSend(r)
      return { ...request, setupRequest: (req: typeof request) => ({ ...req, headers: headers() }) }
    }),
  },
  (error, result) => {
    if (error !== null) {
      console.error(error)
      process.exit(1)
    }
    const cpu = process.cpuUsage(cpuBefore)
    const total = process.cpuUsage()
    const sorted = samples.subarray(0, okCount).sort()
    let sum = 0
    for (let i = 0; i < sorted.length; i++) sum += sorted[i] as number
    const out: LoadResult = {
      responses,
      // autocannon's `errors` already counts timeouts.
      failures: non2xx + result.errors,
      durationSeconds: result.duration,
      requestsPerSecond: responses / result.duration,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      meanMs: sorted.length === 0 ? Number.NaN : sum / sorted.length,
      loadgenCpuSeconds: (cpu.user + cpu.system) / 1e6,
      loadgenTotalCpuSeconds: (total.user + total.system) / 1e6,
    }
    process.stdout.write(`${JSON.stringify(out)}\n`)
  },
)
tracker.on('response', (_client, statusCode, _bytes, ms) => {
  responses++
  if (statusCode < 200 || statusCode > 299) {
    non2xx++
    return
  }
  if (okCount === samples.length) {
    const bigger = new Float64Array(samples.length * 2)
    bigger.set(samples)
    samples = bigger
  }
  samples[okCount++] = ms
})
