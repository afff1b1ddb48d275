import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { captureStream } from './log-capture.js'

/**
 * The real CLI (`src/cli/main.ts serve`) in a child process, for what only a process shows:
 * signals, worker processes, exit codes. Its stdout is JSON lines; they are parsed as they come
 * and also copied to the run's log folder for the secret scan.
 */

const REPO = fileURLToPath(new URL('../../', import.meta.url))
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))

export type LogLine = Record<string, unknown> & { msg?: string; level?: string }

export interface CliProcess {
  readonly child: ChildProcess
  /** Every JSON line written to stdout so far. */
  readonly lines: LogLine[]
  /** Everything written to stderr so far. */
  stderr(): string
  /** The first line (already written or still to come) for which `match` holds; bounded. */
  waitForLine(match: (line: LogLine) => boolean, what: string, timeoutMs?: number): Promise<LogLine>
  /** Resolves with the exit code (or signal name) once the process has ended. */
  readonly exited: Promise<number | string>
  signal(signal: NodeJS.Signals): void
  /** SIGKILL if still running (cleanup in `after`). */
  kill(): Promise<void>
}

export interface SpawnOptions {
  /** A folder holding a built `dist/cli/main.js`: run that, from there, instead of the sources with tsx. */
  builtDir?: string
}

/** Starts `mcp-resource-gateway serve <args>` with exactly `env` (plus PATH and HOME). */
export function spawnServe(args: readonly string[], env: Record<string, string>, name = 'serve', options: SpawnOptions = {}): CliProcess {
  const command =
    options.builtDir === undefined ? ['--import', 'tsx', MAIN, 'serve', ...args] : ['dist/cli/main.js', 'serve', ...args]
  const child = spawn(process.execPath, command, {
    cwd: options.builtDir ?? REPO,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: LogLine[] = []
  const waiters = new Set<() => void>()
  let stderr = ''
  let partial = ''
  child.stdout?.setEncoding('utf8')
  child.stdout?.on('data', (chunk: string) => {
    partial += chunk
    let newline: number
    while ((newline = partial.indexOf('\n')) !== -1) {
      const text = partial.slice(0, newline)
      partial = partial.slice(newline + 1)
      try {
        lines.push(JSON.parse(text) as LogLine)
      } catch {
        lines.push({ msg: text, level: 'raw' })
      }
    }
    for (const wake of [...waiters]) wake()
  })
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (chunk: string) => {
    stderr += chunk
  })
  if (child.stdout !== null) captureStream(child.stdout, `${name}-stdout`)
  if (child.stderr !== null) captureStream(child.stderr, `${name}-stderr`)
  let ended = false
  const exited = new Promise<number | string>((resolve) => {
    // 'close', not 'exit': the output pipes are drained by then, so every line has been parsed.
    child.once('close', (code, signal) => {
      ended = true
      resolve(code ?? signal ?? 'unknown')
      for (const wake of [...waiters]) wake()
    })
  })

  return {
    child,
    lines,
    stderr: () => stderr,
    exited,
    waitForLine(match, what, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.find(match)
          if (found !== undefined) return finish(() => resolve(found))
          if (ended) finish(() => reject(new Error(`process exited before ${what}; stderr: ${stderr}`)))
        }
        const timer = setTimeout(
          () => finish(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; stderr: ${stderr}`))),
          timeoutMs,
        )
        const finish = (then: () => void) => {
          clearTimeout(timer)
          waiters.delete(check)
          then()
        }
        waiters.add(check)
        check()
      })
    },
    signal(signal) {
      child.kill(signal)
    },
    async kill() {
      if (ended) return
      child.kill('SIGKILL')
      await exited
    },
  }
}
