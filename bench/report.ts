import { median, type RunRecord, type Scenario } from './measure.js'

export interface ScenarioSummary {
  readonly id: string
  readonly label: string
  readonly kind: 'throughput' | 'latency' | 'rate'
  readonly connections: number
  readonly note: string | undefined
  readonly rounds: number
  /** Medians over the rounds. */
  readonly requestsPerSecond: number
  /** Median over rounds of (this req/s) / (direct req/s of the same round and kind). */
  readonly ratioVsDirect: number
  readonly p50Ms: number
  readonly p99Ms: number
  /** Median over rounds of (this p50) - (direct p50 of the same round and kind). */
  readonly addedP50Ms: number
  readonly targetCpuUsPerRequest: number
  readonly backendCpuUsPerRequest: number
  readonly loadgenCpuUsPerRequest: number | undefined
  /** Medians over the rounds, per response (`RunRecord.targetWakeups`, `targetSyscalls`). */
  readonly wakeupsPerRequest: number
  readonly syscallsPerRequest: number
  readonly failures: number
  /** Median share of the machine's CPU (all cores) busy during the runs. */
  readonly machineBusy: number
  /** Median cores used by other processes during the runs (noise). */
  readonly otherCores: number
}

/**
 * Direct rows are the reference of their kind: `direct` (throughput), `direct-1c` (latency) and
 * `direct@<rate>` (the same fixed rate).
 */
export function summarize(scenarios: readonly Scenario[], runs: ReadonlyMap<string, readonly RunRecord[]>): ScenarioSummary[] {
  const reference = (s: Scenario) => runs.get(s.kind === 'throughput' ? 'direct' : s.kind === 'latency' ? 'direct-1c' : `direct@${s.rate}`) ?? []
  return scenarios.map((s) => {
    const own = runs.get(s.id) ?? []
    const ref = reference(s)
    const paired = (f: (a: RunRecord, b: RunRecord) => number) =>
      median(own.map((r) => ref.find((d) => d.round === r.round)).map((d, i) => (d === undefined ? Number.NaN : f(own[i] as RunRecord, d))))
    const loadgen = own.map((r) => r.loadgenCpuUs).filter((v): v is number => v !== undefined)
    return {
      id: s.id,
      label: s.label,
      kind: s.kind,
      connections: s.connections,
      note: s.note,
      rounds: own.length,
      requestsPerSecond: median(own.map((r) => r.requestsPerSecond)),
      ratioVsDirect: paired((a, b) => a.requestsPerSecond / b.requestsPerSecond),
      p50Ms: median(own.map((r) => r.p50Ms)),
      p99Ms: median(own.map((r) => r.p99Ms)),
      addedP50Ms: paired((a, b) => a.p50Ms - b.p50Ms),
      targetCpuUsPerRequest: median(own.map((r) => r.targetCpuUs)),
      backendCpuUsPerRequest: median(own.map((r) => r.backendCpuUs)),
      loadgenCpuUsPerRequest: loadgen.length === 0 ? undefined : median(loadgen),
      wakeupsPerRequest: median(own.map((r) => r.targetWakeups)),
      syscallsPerRequest: median(own.map((r) => r.targetSyscalls)),
      failures: own.reduce((n, r) => n + r.failures, 0),
      machineBusy: median(own.map((r) => r.machineBusy)),
      otherCores: median(own.map((r) => r.otherCores)),
    }
  })
}

/** Median over rounds of a / b for two scenarios measured in the same rounds. */
export function pairedRatio(
  runs: ReadonlyMap<string, readonly RunRecord[]>,
  a: string,
  b: string,
  metric: (r: RunRecord) => number,
): number {
  const left = runs.get(a) ?? []
  const right = runs.get(b) ?? []
  return median(left.map((r) => {
    const other = right.find((x) => x.round === r.round)
    return other === undefined ? Number.NaN : metric(r) / metric(other)
  }))
}

export interface TargetCheck {
  readonly target: string
  readonly measured: string
  /** `undefined`: not measurable in this run (scenario skipped or not enforced). */
  readonly met: boolean | undefined
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '-')

export function formatTable(summaries: readonly ScenarioSummary[]): string {
  const header = ['scenario', 'conns', 'req/s', 'x direct', 'p50 ms', 'p99 ms', '+p50 ms', 'cpu µs/req', 'wake-ups/req', 'syscalls/req', 'backend µs/req', 'loadgen µs/req', 'machine busy', 'others (cores)', 'failures']
  const rows = summaries.map((s) => [
    s.label,
    String(s.connections),
    fmt(s.requestsPerSecond),
    fmt(s.ratioVsDirect, 2),
    fmt(s.p50Ms, 3),
    fmt(s.p99Ms, 3),
    s.id.startsWith('direct') ? '-' : fmt(s.addedP50Ms, 3),
    fmt(s.targetCpuUsPerRequest),
    fmt(s.wakeupsPerRequest, 2),
    fmt(s.syscallsPerRequest, 1),
    fmt(s.backendCpuUsPerRequest),
    s.loadgenCpuUsPerRequest === undefined ? '-' : fmt(s.loadgenCpuUsPerRequest),
    `${fmt(s.machineBusy * 100)}%`,
    fmt(s.otherCores, 2),
    String(s.failures),
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)))
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join(' | ')} |`
  const rule = `|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`
  const notes = summaries.filter((s) => s.note !== undefined).map((s) => `- ${s.label}: ${s.note as string}`)
  return [line(header), rule, ...rows.map(line), ...(notes.length > 0 ? ['', ...notes] : [])].join('\n')
}

export function formatChecks(checks: readonly TargetCheck[]): string {
  return checks
    .map((c) => `${c.met === undefined ? 'n/a ' : c.met ? 'MET ' : 'MISS'}  ${c.target}: ${c.measured}`)
    .join('\n')
}
