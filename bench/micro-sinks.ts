import { randomUUID } from 'node:crypto'
import { existsSync, openSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { pino } from 'pino'

/**
 * `node --import tsx bench/micro-sinks.ts [--root DIR]`: CPU per request (all threads, so a
 * write done by the thread pool counts) of what consumes the decision event: the access line,
 * the audit record and the metrics, wired as `serve` wires them, writing to /dev/null. Events are
 * published a few per event-loop turn, as responses finish under load. `--root` loads the
 * observability modules of another copy of the repository (a before/after pair in one process
 * each; run both and compare). Below the macro benchmark's resolution, hence this check.
 */
const { values } = parseArgs({ options: { root: { type: 'string' }, n: { type: 'string' } } })
const root = values.root ?? join(import.meta.dirname, '..')
const N = Number(values.n ?? 200_000)
const PER_TURN = 8

const obs = `${root}/src/observability`
const log = await import(`${obs}/log.ts`)
const audit = await import(`${obs}/audit.ts`)
const metricsModule = await import(`${obs}/metrics.ts`)
const { events } = await import(`${obs}/events.ts`)
const hasLineWriter = existsSync(`${obs}/line-writer.ts`)
const lineWriter = hasLineWriter ? await import(`${obs}/line-writer.ts`) : undefined

const calls = { resourcePath: '/mcp', excluded: ['/healthz'] }

interface Sinks {
  close(): void
}

/** Like src/cli/serve.ts: one stdout writer shared by the logger and the audit trail. */
function wire(parts: { log: boolean; audit: boolean; metrics: boolean }): Sinks {
  const fd = openSync('/dev/null', 'w')
  const stdout = hasLineWriter ? lineWriter.createLineWriter({ fd }) : pino.destination({ dest: fd, sync: false })
  const logger = log.createLogger(parts.log ? 'info' : 'warn', stdout)
  const detach = log.attachLogger(logger)
  const trail = audit.createAuditTrail({ ...calls, file: parts.audit ? 'stdout' : 'off', stdout })
  const metrics = parts.metrics ? metricsModule.createMetrics({ calls, defaultMetrics: false }) : undefined
  return {
    close() {
      trail.close()
      metrics?.close()
      detach()
    },
  }
}

function event(i: number) {
  const call = i % 2 === 0
  return {
    requestId: randomUUID(),
    time: Date.now(),
    httpMethod: 'POST',
    path: '/mcp',
    status: 200,
    durationMs: 2.5 + (i % 7) * 0.37,
    upstreamMs: 1.25 + (i % 5) * 0.21,
    decision: 'allow',
    reason: undefined,
    mcpMethod: call ? 'tools/call' : 'tools/list',
    target: call ? 'echo' : undefined,
    protocolVersion: '2025-11-25',
    subject: `user-${i % 16}`,
    clientId: 'bench-client',
    issuer: 'https://issuer.bench.example',
  }
}

async function run(n: number): Promise<{ cpu: number; wall: number }> {
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  for (let i = 0; i < n; ) {
    for (let k = 0; k < PER_TURN && i < n; k++, i++) if (events.decision.hasSubscribers) events.decision.publish(event(i))
    await new Promise<void>((resolve) => setImmediate(resolve))
  }
  const cpu = process.cpuUsage(cpu0)
  return { cpu: (cpu.user + cpu.system) / n, wall: ((performance.now() - t0) * 1000) / n }
}

const variants: Array<[string, { log: boolean; audit: boolean; metrics: boolean }]> = [
  ['logger at warn only', { log: false, audit: false, metrics: false }],
  ['metrics', { log: false, audit: false, metrics: true }],
  ['access line', { log: true, audit: false, metrics: false }],
  ['audit record', { log: false, audit: true, metrics: false }],
  ['logs + audit + metrics', { log: true, audit: true, metrics: true }],
]

console.log(`root ${root} (${hasLineWriter ? 'line writer' : 'sonic-boom'}), ${N} events, ${PER_TURN} per turn`)
for (let round = 0; round < 3; round++) {
  for (const [label, parts] of variants) {
    const sinks = wire(parts)
    await run(N / 10)
    const r = await run(N)
    sinks.close()
    await new Promise((resolve) => setTimeout(resolve, 50))
    console.log(`${label.padEnd(34)} ${r.cpu.toFixed(2).padStart(6)} µs cpu/event  ${r.wall.toFixed(2).padStart(6)} µs wall/event`)
  }
}
