import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

/**
 * CPU time and resident memory of a process and everything it started, read from Linux's /proc
 * (proc(5): `stat` fields 14 utime and 15 stime in clock ticks, `status` VmRSS). The benchmark
 * reads the counters of the measured process itself, so the load generator's own CPU never counts
 * as the gateway's, and a gateway that forks workers is measured whole.
 */

let ticksPerSecond: number | undefined

export function clockTicks(): number {
  if (ticksPerSecond !== undefined) return ticksPerSecond
  try {
    ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    ticksPerSecond = 100
  }
  return ticksPerSecond
}

export function procAvailable(): boolean {
  try {
    readFileSync('/proc/self/stat', 'utf8')
    return true
  } catch {
    return false
  }
}

interface StatLine {
  ppid: number
  cpuTicks: number
}

/** The fields after `comm`, which may itself hold spaces and parentheses. */
function readStat(pid: number): StatLine | undefined {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
  return { ppid: Number(fields[1]), cpuTicks: Number(fields[11]) + Number(fields[12]) }
}

/** `pid` and all its descendants, alive now. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>()
  for (const name of readdirSync('/proc')) {
    const child = Number(name)
    if (!Number.isInteger(child)) continue
    const stat = readStat(child)
    if (stat === undefined) continue
    const list = children.get(stat.ppid) ?? []
    list.push(child)
    children.set(stat.ppid, list)
  }
  const out: number[] = []
  const queue = [pid]
  while (queue.length > 0) {
    const next = queue.shift() as number
    out.push(next)
    queue.push(...(children.get(next) ?? []))
  }
  return out
}

/** CPU seconds (user + system) used so far by `pid` and its live descendants. */
export function cpuSeconds(pid: number): number {
  let ticks = 0
  for (const p of processTree(pid)) ticks += readStat(p)?.cpuTicks ?? 0
  return ticks / clockTicks()
}

/** Resident set size in bytes of `pid` and its live descendants. */
export function rssBytes(pid: number): number {
  let kb = 0
  for (const p of processTree(pid)) {
    try {
      const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'))
      if (match !== null) kb += Number(match[1])
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return kb * 1024
}

/** Machine-wide CPU jiffies from /proc/stat's `cpu` line: busy (everything but idle and iowait) and total. */
export function machineJiffies(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] as string
  const values = line.trim().split(/\s+/).slice(1).map(Number)
  const total = values.slice(0, 8).reduce((a, b) => a + b, 0)
  const idle = (values[3] ?? 0) + (values[4] ?? 0)
  return { busy: total - idle, total }
}

/**
 * Wake-ups and syscalls so far of `pid`'s main thread and its live descendants' (proc(5):
 * `task/<pid>/status` voluntary_ctxt_switches, the times the event loop slept and was woken; `io`
 * syscr and syscw, read and write system calls of the whole process). Per request they show the
 * work that does not scale with load: at a low rate each request is a wake-up of its own.
 */
export function loopCounters(pid: number): { wakeups: number; syscalls: number } {
  let wakeups = 0
  let syscalls = 0
  for (const p of processTree(pid)) {
    try {
      const match = /^voluntary_ctxt_switches:\s+(\d+)$/m.exec(readFileSync(`/proc/${p}/task/${p}/status`, 'utf8'))
      if (match !== null) wakeups += Number(match[1])
      const io = readFileSync(`/proc/${p}/io`, 'utf8')
      syscalls += Number(/^syscr: (\d+)$/m.exec(io)?.[1] ?? 0) + Number(/^syscw: (\d+)$/m.exec(io)?.[1] ?? 0)
    } catch {
      // Ended between the listing and the read, or /proc/<pid>/io is not ours to read (nginx's
      // worker under another user): the figure is then a lower bound.
    }
  }
  return { wakeups, syscalls }
}
