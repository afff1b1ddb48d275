import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, openSync } from 'node:fs'
import { createInterface } from 'node:readline'

/**
 * A process the benchmark started: its stdout lines can be awaited, the last lines of stderr are
 * kept for error messages, and `stop()` ends it by its own pid (SIGTERM, then SIGKILL).
 */
export interface Child {
  readonly name: string
  readonly pid: number
  readonly process: ChildProcess
  /** Resolves with the first stdout line `match` accepts; rejects if the process exits first. */
  waitForLine(match: (line: string) => boolean, timeoutMs?: number): Promise<string>
  /** Resolves when the process exits (with its code, or null if killed). */
  readonly exited: Promise<number | null>
  stderrTail(): string
  stop(timeoutMs?: number): Promise<void>
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv
  cwd?: string
  /** Print the child's stderr as it comes (debugging). */
  echoStderr?: boolean
  /**
   * Append stdout to this file instead of a pipe (gateway logs): as an operator's log file, and so
   * the benchmark's own process does not spend CPU reading them. `waitForLine` never resolves then.
   */
  stdoutFile?: string
}

export function spawnChild(name: string, command: string, args: readonly string[], options: SpawnOptions = {}): Child {
  const stdoutFd = options.stdoutFile === undefined ? undefined : openSync(options.stdoutFile, 'a')
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', stdoutFd ?? 'pipe', 'pipe'],
  })
  if (stdoutFd !== undefined) closeSync(stdoutFd)
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`)
  const pid = child.pid
  const stderr: string[] = []
  const waiters = new Set<{ match: (line: string) => boolean; resolve: (line: string) => void }>()
  let exitCode: number | null | undefined

  if (child.stdout !== null) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      for (const waiter of waiters) {
        if (waiter.match(line)) {
          waiters.delete(waiter)
          waiter.resolve(line)
        }
      }
    })
  }
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => {
    stderr.push(line)
    if (stderr.length > 40) stderr.shift()
    if (options.echoStderr === true) process.stderr.write(`[${name}] ${line}\n`)
  })
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      exitCode = code
      resolve(code)
    })
    child.once('error', (error) => {
      stderr.push(error.message)
      exitCode = null
      resolve(null)
    })
  })

  return {
    name,
    pid,
    process: child,
    exited,
    waitForLine(match, timeoutMs = 30_000) {
      return new Promise<string>((resolve, reject) => {
        const waiter = {
          match,
          resolve: (line: string) => {
            clearTimeout(timer)
            resolve(line)
          },
        }
        const timer = setTimeout(() => {
          waiters.delete(waiter)
          reject(new Error(`${name}: no expected output within ${timeoutMs} ms\n${stderr.join('\n')}`))
        }, timeoutMs)
        waiters.add(waiter)
        void exited.then((code) => {
          if (!waiters.has(waiter)) return
          waiters.delete(waiter)
          clearTimeout(timer)
          reject(new Error(`${name} exited (code ${String(code)}) before it was ready\n${stderr.join('\n')}`))
        })
      })
    },
    stderrTail: () => stderr.join('\n'),
    async stop(timeoutMs = 10_000) {
      if (exitCode !== undefined) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
      await exited
      clearTimeout(timer)
    },
  }
}

/** Runs a process to completion and returns its stdout (rejects on a non-zero exit). */
export async function runToEnd(command: string, args: readonly string[], options: SpawnOptions = {}): Promise<string> {
  return (await runToEndWithStderr(command, args, options)).stdout
}

/** Like `runToEnd`, with stderr too. */
export async function runToEndWithStderr(
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): Promise<{ stdout: string; stderr: string }> {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] })
  const out: Buffer[] = []
  const err: Buffer[] = []
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk))
  child.stderr.on('data', (chunk: Buffer) => err.push(chunk))
  const [code] = (await once(child, 'exit')) as [number | null]
  const stderr = Buffer.concat(err).toString('utf8')
  if (code !== 0) throw new Error(`${command} exited with ${String(code)}: ${stderr.slice(-2000)}`)
  return { stdout: Buffer.concat(out).toString('utf8'), stderr }
}
