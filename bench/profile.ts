import { mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describeTools, type BenchContext } from './context.js'
import { formatCosts, summarizeProfile, type CpuProfile } from './cpuprofile-summary.js'
import { REPO_ROOT } from './gateway-process.js'
import { createBenchKeys } from './keys.js'
import { measure, type Scenario } from './measure.js'
import { mcpRequests } from './requests.js'
import { writeSection } from './results-file.js'
import { baseGatewayEnv, mintTokens, startBackend, TOKEN_SET_SIZE, tryGateway } from './setup.js'

/**
 * `--profile`: the gateway under the JWT RS256 warm-cache load with `--cpu-prof` (100 µs
 * sampling), stopped gracefully so V8 writes the profile; only the samples inside the measured
 * run are summarized. The profile stays in bench/.tmp/ (gitignored) for Chrome DevTools or speedscope.
 */
export async function runProfile(ctx: BenchContext): Promise<void> {
  const { options } = ctx
  ctx.log(`tools: ${describeTools(ctx)}`)
  const outDir = join(import.meta.dirname, '.tmp')
  mkdirSync(outDir, { recursive: true })
  const profDir = join(ctx.dir, 'cpuprof')
  mkdirSync(profDir)

  const backend = await startBackend()
  ctx.defer(() => backend.child.stop())
  const keys = createBenchKeys(ctx.dir)
  const started = await tryGateway('gateway-profiled', {
    dist: options.dist,
    echoStderr: options.verbose,
    env: baseGatewayEnv(backend, keys),
    nodeFlags: ['--cpu-prof', '--cpu-prof-dir', profDir, '--cpu-prof-interval', '100'],
  })
  if (!started.ok) throw new Error(`the gateway did not start: ${started.reason}`)
  const gateway = started.value
  ctx.defer(() => gateway.child.stop())
  const scenario: Scenario = {
    id: 'jwt-rs256',
    label: 'gateway JWT RS256 (profiled)',
    kind: 'throughput',
    connections: options.connections,
    origin: gateway.url,
    targetPid: gateway.child.pid,
    requests: mcpRequests(mintTokens(keys.rs256, `${gateway.url}/mcp`, TOKEN_SET_SIZE)),
  }
  await measure(scenario, backend.child.pid, ctx.generator, ctx.dir, 2, 0)
  const from = Number(process.hrtime.bigint() / 1000n)
  const run = await measure(scenario, backend.child.pid, ctx.generator, ctx.dir, Math.max(5, options.duration * 2), 1)
  const to = Number(process.hrtime.bigint() / 1000n)
  await gateway.child.stop(30_000)

  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'))
  if (file === undefined) throw new Error('the gateway wrote no .cpuprofile (did it exit gracefully on SIGTERM?)')
  const text = readFileSync(join(profDir, file), 'utf8')
  const kept = join(outDir, `gateway-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`)
  await import('node:fs/promises').then((fs) => fs.writeFile(kept, text))
  const summary = summarizeProfile(JSON.parse(text) as CpuProfile, from, to, REPO_ROOT)

  console.log(
    `\nprofiled run: ${run.requestsPerSecond.toFixed(0)} req/s, ${run.targetCpuUs.toFixed(0)} µs gateway CPU/req ` +
      `(profiling adds overhead), window ${summary.windowMs} ms, main thread idle ${summary.idlePercent}%\n`,
  )
  console.log(formatCosts('Self time by function', summary.selfByFunction))
  console.log(`\n${formatCosts('Self time by file', summary.selfByFile)}`)
  console.log(`\n${formatCosts('Inclusive time, gateway code (src/)', summary.inclusiveGateway)}`)
  console.log(`\nprofile kept at ${kept}`)
  writeSection(options.out, 'profile', { finishedAt: new Date().toISOString(), machine: ctx.machine, run, profile: kept, summary })
}
