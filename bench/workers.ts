import { gatewayLaunch } from './build.js'
import { describeTools, type BenchContext } from './context.js'
import { createBenchKeys } from './keys.js'
import { runRounds, type Scenario } from './measure.js'
import { processTree } from './proc-stats.js'
import { formatTable, pairedRatio, summarize } from './report.js'
import { mcpRequests } from './requests.js'
import { writeSection } from './results-file.js'
import { baseGatewayEnv, mintTokens, startBackend, TOKEN_SET_SIZE, tryGateway } from './setup.js'

/**
 * `--workers`: MCP_WORKER_PROCESSES=1 against 2 (JWT RS256, warm cache), alternating with the
 * direct backend. CPU is the whole process tree's, so a primary that forks workers is charged for
 * all of them. If `2` still starts a single process, the feature has not landed and the mode says so.
 */
export async function runWorkers(ctx: BenchContext): Promise<void> {
  const { options } = ctx
  ctx.log(`tools: ${describeTools(ctx)}`)
  const { describe: gatewayRun, ...launch } = await gatewayLaunch(ctx)
  ctx.log(`gateways: ${gatewayRun}`)
  const backend = await startBackend()
  ctx.defer(() => backend.child.stop())
  const keys = createBenchKeys(ctx.dir)
  const env = baseGatewayEnv(backend, keys)

  const gateways = []
  for (const workers of [1, 2]) {
    const started = await tryGateway(`gateway-w${workers}`, { ...launch, env: { ...env, MCP_WORKER_PROCESSES: String(workers) } })
    if (!started.ok) {
      const reason = `MCP_WORKER_PROCESSES=${workers} refused: ${started.reason}`
      console.log(`workers mode: ${reason}`)
      writeSection(options.out, 'workers', { status: 'missing', reason, finishedAt: new Date().toISOString() })
      return
    }
    ctx.defer(() => started.value.child.stop())
    gateways.push({ workers, gateway: started.value })
  }
  // Workers fork after the primary starts; give them a moment to show up in /proc.
  await new Promise((resolve) => setTimeout(resolve, 1500))
  const trees = gateways.map(({ workers, gateway }) => ({ workers, processes: processTree(gateway.child.pid).length }))
  const two = trees.find((t) => t.workers === 2)
  if (two === undefined || two.processes < 2) {
    const reason =
      'MCP_WORKER_PROCESSES=2 is accepted but the gateway runs as a single process (no worker processes forked): ' +
      'the worker feature has not landed'
    console.log(`workers mode: ${reason}`)
    writeSection(options.out, 'workers', { status: 'missing', reason, processTrees: trees, finishedAt: new Date().toISOString() })
    return
  }

  const scenarios: Scenario[] = [
    {
      id: 'direct',
      label: 'direct backend',
      kind: 'throughput',
      connections: options.connections,
      origin: backend.origin,
      targetPid: backend.child.pid,
      requests: mcpRequests(mintTokens(keys.rs256, 'http://unused.invalid/mcp', TOKEN_SET_SIZE)),
    },
  ]
  for (const { workers, gateway } of gateways) {
    scenarios.push({
      id: `workers-${workers}`,
      label: `gateway JWT RS256, ${workers} worker${workers === 1 ? '' : 's'}`,
      kind: 'throughput',
      connections: options.connections,
      origin: gateway.url,
      targetPid: gateway.child.pid,
      requests: mcpRequests(mintTokens(keys.rs256, `${gateway.url}/mcp`, TOKEN_SET_SIZE)),
      note: `${processTree(gateway.child.pid).length} process(es)`,
    })
  }
  const runs = await runRounds(scenarios, {
    rounds: options.rounds,
    duration: options.duration,
    warmupSeconds: options.quick ? 1 : 2,
    generator: ctx.generator,
    dir: ctx.dir,
    backendPid: backend.child.pid,
    log: ctx.log,
  })
  const summaries = summarize(scenarios, runs)
  const scaling = pairedRatio(runs, 'workers-2', 'workers-1', (r) => r.requestsPerSecond)
  const table = formatTable(summaries)
  console.log(`\n${table}\n\n2 workers vs 1: ${scaling.toFixed(2)}x req/s (${ctx.machine.cpus} cores shared with the backend and the load generator)`)
  writeSection(options.out, 'workers', {
    status: 'measured',
    finishedAt: new Date().toISOString(),
    machine: ctx.machine,
    loadGenerator: ctx.generator.tool,
    scalingTwoVsOne: scaling,
    scenarios: summaries.map((s) => ({ ...s, runs: runs.get(s.id) })),
    table,
  })
  console.log(`\nwrote ${options.out}`)
}
