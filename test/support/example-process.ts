import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { captureStream } from './log-capture.js'

const REPO = fileURLToPath(new URL('../../', import.meta.url))

export interface ExampleProcess {
  readonly child: ChildProcess
  /** Everything written to stdout and stderr so far. */
  output(): string
  /** Resolves once the example prints `listening`; rejects if it exits first or takes too long. */
  readonly listening: Promise<void>
  /** Resolves with the exit code once the process has ended. */
  readonly exited: Promise<number | string>
  kill(): Promise<void>
}

/** Runs `examples/<name>.ts` as a user would (`node --import tsx`), with exactly `env` (plus PATH and HOME). */
export function startExample(name: string, env: Record<string, string>, timeoutMs = 30_000): ExampleProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', `examples/${name}.ts`], {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding('utf8')
    stream?.on('data', (chunk: string) => {
      output += chunk
    })
  }
  if (child.stdout !== null) captureStream(child.stdout, `example-${name}-stdout`)
  if (child.stderr !== null) captureStream(child.stderr, `example-${name}-stderr`)
  const exited = new Promise<number | string>((resolve) => child.once('close', (code, signal) => resolve(code ?? signal ?? 'unknown')))
  const listening = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`examples/${name}.ts did not listen within ${timeoutMs} ms:\n${output}`)), timeoutMs)
    child.stdout?.on('data', () => {
      if (output.includes('listening')) {
        clearTimeout(timer)
        resolve()
      }
    })
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`examples/${name}.ts exited (${code}) before listening:\n${output}`))
    })
  })
  listening.catch(() => {})
  return {
    child,
    output: () => output,
    listening,
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
    },
  }
}
