import type { LoadGenerator } from './load/run-load.js'
import { runLoad } from './load/run-load.js'
import type { LoadRequest } from './load/load-spec.js'
import { clockTicks, cpuSeconds, loopCounters, machineJiffies } from './proc-stats.js'

export interface Scenario {
  readonly id: string
  readonly label: string
  /** `rate`: open-loop load at `rate` req/s (its reference is `direct@<rate>`). */
  readonly kind: 'throughput' | 'latency' | 'rate'
  readonly connections: number
  /** Requests per second, for `rate` rows. */
  readonly rate?: number
  readonly origin: string
  /** The process whose CPU is the scenario's own (the backend itself for the direct rows). */
  readonly targetPid: number
  readonly requests: readonly LoadRequest[]
  /**
   * When set, the requests of each run, made for a run of that many seconds (at `rate` req/s when
   * the row has one) before its counters are read (the DPoP row: proofs that must never repeat).
   */
  readonly requestsFor?: (durationSeconds: number, rate?: number) => readonly LoadRequest[]
  /** Said next to the row (e.g. "policy keys accepted but not enforced"). */
  readonly note?: string
}

export interface RunRecord {
  readonly round: number
  readonly requestsPerSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly meanMs: number
  readonly responses: number
  readonly failures: number
  readonly durationSeconds: number
  /** CPU µs per response of the scenario's own process (gateway, nginx, or the backend when direct). */
  readonly targetCpuUs: number
  /** CPU µs per response of the backend behind it (equal to `targetCpuUs` for the direct rows). */
  readonly backendCpuUs: number
  readonly loadgenCpuUs: number | undefined
  /** Per response: the target's main thread(s) put to sleep and woken again (voluntary switches). */
  readonly targetWakeups: number
  /** Per response: the target's read and write system calls (`/proc/<pid>/io` syscr + syscw). */
  readonly targetSyscalls: number
  /** Share of the whole machine's CPU that was busy during the run (0..1, all cores). */
  readonly machineBusy: number
  /**
   * Cores used by everything else (other processes, kernel threads) during the run: machine busy
   * time minus target, backend and load generator. Above ~0.1 the run was disturbed.
   */
  readonly otherCores: number
}

/** One run: CPU counters of the target and the backend read before and after the load. */
export async function measure(
  scenario: Scenario,
  backendPid: number,
  generator: LoadGenerator,
  dir: string,
  durationSeconds: number,
  round: number,
): Promise<RunRecord> {
  const requests = scenario.requestsFor?.(durationSeconds, scenario.rate) ?? scenario.requests
  const loop0 = loopCounters(scenario.targetPid)
  const target0 = cpuSeconds(scenario.targetPid)
  const backend0 = cpuSeconds(backendPid)
  const machine0 = machineJiffies()
  const wall0 = performance.now()
  const result = await runLoad(
    generator,
    { origin: scenario.origin, requests, connections: scenario.connections, durationSeconds, rate: scenario.rate },
    dir,
  )
  const machine1 = machineJiffies()
  const wallSeconds = (performance.now() - wall0) / 1000
  const target = cpuSeconds(scenario.targetPid) - target0
  const loop1 = loopCounters(scenario.targetPid)
  const backend = cpuSeconds(backendPid) - backend0
  const n = Math.max(1, result.responses)
  const busySeconds = (machine1.busy - machine0.busy) / clockTicks()
  const ours = target + (scenario.targetPid === backendPid ? 0 : backend) + (result.loadgenTotalCpuSeconds ?? 0)
  return {
    round,
    requestsPerSecond: result.requestsPerSecond,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    meanMs: result.meanMs,
    responses: result.responses,
    failures: result.failures,
    durationSeconds: result.durationSeconds,
    targetCpuUs: (target * 1e6) / n,
    backendCpuUs: (backend * 1e6) / n,
    loadgenCpuUs: result.loadgenCpuSeconds === undefined ? undefined : (result.loadgenCpuSeconds * 1e6) / n,
    targetWakeups: (loop1.wakeups - loop0.wakeups) / n,
    targetSyscalls: (loop1.syscalls - loop0.syscalls) / n,
    machineBusy: (machine1.busy - machine0.busy) / Math.max(1, machine1.total - machine0.total),
    otherCores: Math.max(0, busySeconds - ours) / Math.max(0.001, wallSeconds),
  }
}

export interface RoundsOptions {
  readonly rounds: number
  readonly duration: number
  readonly warmupSeconds: number
  readonly generator: LoadGenerator
  readonly dir: string
  readonly backendPid: number
  readonly log: (line: string) => void
}

/**
 * Warm-up (JIT, token caches, keep-alive pools), then rounds in which every scenario runs once in
 * turn, the order reversed every other round (A B C, C B A, ...), so slow drifts of the machine
 * spread over all targets alike.
 */
export async function runRounds(scenarios: readonly Scenario[], options: RoundsOptions): Promise<Map<string, RunRecord[]>> {
  const runs = new Map<string, RunRecord[]>(scenarios.map((s) => [s.id, []]))
  for (const scenario of scenarios) {
    options.log(`warm-up ${scenario.label}`)
    const warm = await measure(scenario, options.backendPid, options.generator, options.dir, options.warmupSeconds, 0)
    if (warm.responses === 0 || warm.failures > warm.responses / 2) {
      throw new Error(`${scenario.label}: warm-up failed (${warm.failures} failures of ${warm.responses} responses)`)
    }
  }
  for (let round = 1; round <= options.rounds; round++) {
    // A B C, C B A, A B C ...: a drift of the machine over a round weighs on both sides of a pair.
    for (const scenario of round % 2 === 1 ? scenarios : [...scenarios].reverse()) {
      const record = await measure(scenario, options.backendPid, options.generator, options.dir, options.duration, round)
      ;(runs.get(scenario.id) as RunRecord[]).push(record)
      options.log(
        `round ${round}/${options.rounds} ${scenario.label.padEnd(34)} ${record.requestsPerSecond.toFixed(0).padStart(7)} req/s` +
          `  p50 ${record.p50Ms.toFixed(3)} ms  cpu ${record.targetCpuUs.toFixed(0)} µs/req` +
          `  wake-ups ${record.targetWakeups.toFixed(2)} syscalls ${record.targetSyscalls.toFixed(1)}/req` +
          `  machine ${(record.machineBusy * 100).toFixed(0)}% busy, others ${record.otherCores.toFixed(2)} cores` +
          (record.failures > 0 ? `  failures ${record.failures}` : ''),
      )
    }
  }
  return runs
}

export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}
