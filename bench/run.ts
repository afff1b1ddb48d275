import { createContext } from './context.js'
import { parseOptions } from './options.js'
import { procAvailable } from './proc-stats.js'
import { runThroughput } from './throughput.js'

/**
 * `npm run bench [-- --quick | --workers | --memory | --profile | --soak]`: see bench/README.md. Everything
 * runs on 127.0.0.1; nothing is installed; optional tools (wrk, nginx) are used when found.
 */
async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2))
  if (!procAvailable()) throw new Error('the benchmark reads process CPU time from /proc; it needs Linux')
  const ctx = createContext(options)
  const stop = () => {
    void ctx.close().finally(() => process.exit(130))
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  try {
    switch (options.mode) {
      case 'throughput':
        return await runThroughput(ctx)
      case 'workers':
        return await (await import('./workers.js')).runWorkers(ctx)
      case 'memory':
        return await (await import('./memory.js')).runMemory(ctx)
      case 'profile':
        return await (await import('./profile.js')).runProfile(ctx)
      case 'soak':
        return await (await import('./soak.js')).runSoak(ctx)
    }
  } finally {
    await ctx.close()
  }
}

main().catch((error: unknown) => {
  console.error(`bench: ${(error as Error).message ?? String(error)}`)
  process.exitCode = 1
})
