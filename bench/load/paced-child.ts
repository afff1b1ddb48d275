import { readFileSync } from 'node:fs'
import { Client } from 'undici'
import { headersPerSend, percentile, type LoadResult, type LoadSpec } from './load-spec.js'

/**
 * Open-loop load at a fixed rate (`spec.rate` requests per second), in a process of its own, one
 * JSON `LoadResult` line on stdout.
 *
 * wrk cannot hold a rate, wrk2 is not in Debian, and autocannon's `overallRate` is a per-second
 * quota that each connection spends at once and then waits out: bursts at saturation followed by
 * idle time, which measures the saturated cost again. Here requests are due at even intervals
 * from the start: every millisecond (the timer's grain) the requests that came due are sent,
 * whether or not earlier ones were answered, round-robin over the connections (each paced at
 * rate / connections, as wrk2 does; a connection still busy queues its next request). A response time counts from when its request was due, not when a connection took it,
 * so a stall is not hidden by the requests it held back (no coordinated omission, as wrk2).
 */
const spec = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as LoadSpec
const rate = spec.rate as number
const clients = Array.from({ length: spec.connections }, () => new Client(spec.origin, { pipelining: 1, keepAliveTimeout: 60_000 }))
const entries = spec.requests.map((r) => ({ method: r.method, path: r.path, body: r.body, headers: headersPerSend(r) }))

/** The `i`th entry (round-robin) as sent now. */
function build(i: number) {
  const { headers, ...entry } = entries[i % entries.length] as (typeof entries)[number]
  return { ...entry, headers: headers() }
}

let samples = new Float64Array(1 << 16)
let okCount = 0
let responses = 0
let failures = 0
let sent = 0
let pending = 0

function record(ms: number, ok: boolean): void {
  responses++
  if (!ok) {
    failures++
    return
  }
  if (okCount === samples.length) {
    const bigger = new Float64Array(samples.length * 2)
    bigger.set(samples)
    samples = bigger
  }
  samples[okCount++] = ms
}

function send(dueAt: number): void {
  const r = build(sent)
  pending++
  ;(clients[sent % clients.length] as Client).request(r).then(
    async ({ statusCode, body }) => {
      await body.dump()
      pending--
      record(performance.now() - dueAt, statusCode >= 200 && statusCode <= 299)
    },
    () => {
      pending--
      record(0, false)
    },
  )
  sent++
}

// Connections opened before the clock starts (as wrk and autocannon do) by one request each; they
// count as responses, since the target's CPU is read around the whole process.
let opening = 0
await Promise.all(
  clients.map((client, i) =>
    client.request(build(i)).then(async ({ body }) => {
      await body.dump()
      opening++
    }),
  ),
)

const cpuBefore = process.cpuUsage()
const start = performance.now()
const endAt = start + spec.durationSeconds * 1000
const intervalMs = 1000 / rate
const tick = setInterval(() => {
  const now = Math.min(performance.now(), endAt)
  const due = Math.floor((now - start) / intervalMs)
  while (sent < due) send(start + sent * intervalMs)
  if (now >= endAt) {
    clearInterval(tick)
    void finish()
  }
}, 1)

async function finish(): Promise<void> {
  const durationSeconds = (performance.now() - start) / 1000
  // Bounded: the answers still on their way, at most 10 s (the other drivers' timeout).
  for (let waited = 0; pending > 0 && waited < 10_000; waited += 5) await new Promise((r) => setTimeout(r, 5))
  failures += pending
  const cpu = process.cpuUsage(cpuBefore)
  const total = process.cpuUsage()
  const sorted = samples.subarray(0, okCount).sort()
  let sum = 0
  for (let i = 0; i < sorted.length; i++) sum += sorted[i] as number
  const out: LoadResult = {
    responses: responses + opening,
    failures,
    durationSeconds,
    requestsPerSecond: responses / durationSeconds,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    meanMs: sorted.length === 0 ? Number.NaN : sum / sorted.length,
    loadgenCpuSeconds: (cpu.user + cpu.system) / 1e6,
    loadgenTotalCpuSeconds: (total.user + total.system) / 1e6,
  }
  process.stdout.write(`${JSON.stringify(out)}\n`)
  await Promise.all(clients.map((c) => c.destroy()))
}
