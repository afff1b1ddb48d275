import { accessSync, constants, readFileSync } from 'node:fs'
import { cpus, loadavg, release, totalmem } from 'node:os'
import { delimiter, join } from 'node:path'

/** What the numbers were measured on; ratios travel between machines, absolute figures do not. */
export interface MachineDescription {
  cpus: number
  cpuModel: string
  memoryGiB: number
  os: string
  node: string
  loadAverageAtStart: number[]
  /** A container's CPU limit (cgroup v2 `cpu.max`), when one applies. */
  cpuQuota: string | undefined
}

export function describeMachine(): MachineDescription {
  const list = cpus()
  return {
    cpus: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${process.platform} ${release()}`,
    node: process.version,
    loadAverageAtStart: loadavg().map((n) => Math.round(n * 100) / 100),
    cpuQuota: readCpuQuota(),
  }
}

function readCpuQuota(): string | undefined {
  try {
    const value = readFileSync('/sys/fs/cgroup/cpu.max', 'utf8').trim()
    return value.startsWith('max') ? undefined : value
  } catch {
    return undefined
  }
}

/**
 * An executable on PATH (or in `extraDirs`, e.g. /usr/sbin for nginx when PATH lacks it), or
 * undefined; the benchmark only looks, it never installs.
 */
export function findOnPath(name: string, extraDirs: readonly string[] = []): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), ...extraDirs]) {
    if (dir === '') continue
    const candidate = join(dir, name)
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // Not here.
    }
  }
  return undefined
}
