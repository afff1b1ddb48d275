import { pathToFileURL } from 'node:url'
import { runDemo } from './run.js'
import type { RunDemoOptions } from './run.js'

/**
 * Runs the demo until SIGINT or SIGTERM, then shuts it down. Meant for the CLI's `start`
 * command; also runnable on its own (`node --import tsx src/demo/main.ts`).
 * Resolves with the process exit code.
 */
export async function runDemoUntilSignal(options: RunDemoOptions = {}): Promise<number> {
  let demo: Awaited<ReturnType<typeof runDemo>>
  try {
    demo = await runDemo(options)
  } catch (err) {
    const code = (err as { code?: unknown }).code
    if (code === 'EADDRINUSE') {
      // The usual first-run failure: say which ports the demo wants instead of a stack trace.
      console.error(
        `demo: a port is already in use (${(err as Error).message}). ` +
          `The demo uses 127.0.0.1 ports ${options.gatewayPort ?? 8080}, ${options.asPort ?? 9400} and ${options.backendPort ?? 9401}.`,
      )
    } else {
      console.error('demo: failed to start:', err)
    }
    return 1
  }
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  await demo.close()
  return 0
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runDemoUntilSignal()
}
