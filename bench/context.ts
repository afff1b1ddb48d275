import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { LoadGenerator } from './load/run-load.js'
import { describeMachine, findOnPath, type MachineDescription } from './machine.js'
import type { BenchOptions } from './options.js'

/** What every mode shares: options, a temp directory, the tools found, and the cleanups to run. */
export interface BenchContext {
  readonly options: BenchOptions
  readonly dir: string
  readonly machine: MachineDescription
  readonly tools: { readonly wrk: string | undefined; readonly nginx: string | undefined }
  readonly generator: LoadGenerator
  log(line: string): void
  /** Registers a cleanup; they run in reverse order at the end, also after a failure. */
  defer(cleanup: () => Promise<void> | void): void
  close(): Promise<void>
}

const NGINX_DIRS = ['/usr/sbin', '/usr/local/sbin', '/usr/local/nginx/sbin']

export function createContext(options: BenchOptions): BenchContext {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-gateway-bench-'))
  const wrk = findOnPath('wrk')
  const nginx = findOnPath('nginx', NGINX_DIRS)
  if (options.loadgen === 'wrk' && wrk === undefined) throw new Error('--loadgen wrk: wrk is not on PATH')
  const useWrk = options.loadgen === 'wrk' || (options.loadgen === 'auto' && wrk !== undefined)
  const cleanups: (() => Promise<void> | void)[] = []
  return {
    options,
    dir,
    machine: describeMachine(),
    tools: { wrk, nginx },
    generator: useWrk ? { tool: 'wrk', path: wrk } : { tool: 'autocannon', path: undefined },
    log: (line) => process.stderr.write(`${line}\n`),
    defer: (cleanup) => void cleanups.push(cleanup),
    async close() {
      for (const cleanup of cleanups.reverse()) {
        try {
          await cleanup()
        } catch (error) {
          process.stderr.write(`cleanup: ${(error as Error).message}\n`)
        }
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export function describeTools(ctx: BenchContext): string {
  const found = (name: string, path: string | undefined) => `${name}: ${path ?? 'not found'}`
  return [
    found('wrk', ctx.tools.wrk),
    found('nginx', ctx.tools.nginx),
    `load generator: ${ctx.generator.tool}${ctx.generator.tool === 'autocannon' ? ' (in its own process)' : ''}`,
  ].join(', ')
}
