import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { gatewayLaunch } from './build.js'
import { join } from 'node:path'
import { describeTools, type BenchContext } from './context.js'
import { formatCosts, summarizeProfile, type CpuProfile } from './cpuprofile-summary.js'
import { REPO_ROOT, type GatewayProcess } from './gateway-process.js'
import { createBenchKeys } from './keys.js'
import { measure, type Scenario } from './measure.js'
import { mcpRequests } from './requests.js'
import { writeSection } from './results-file.js'
import { startDpopRow } from './throughput.js'
import {
  baseGatewayEnv,
  mintTokens,
  POLICY_YAML,
  startBackend,
  startIntrospectionGateway,
  TOKEN_SET_SIZE,
  tryGateway,
} from './setup.js'

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

  // Compiled (unless --tsx or --dist): profile lines are then real `dist/*.js` lines, which map 1:1
  // to functions in src/*.ts, and the costs are the shipped gateway's.
  const { describe: gatewayRun, ...built } = await gatewayLaunch(ctx, REPO_ROOT, 'profile-build')
  ctx.log(`gateway: ${gatewayRun}`)
  const backend = await startBackend()
  ctx.defer(() => backend.child.stop())
  const keys = createBenchKeys(ctx.dir)
  // `--only jwt-rs256-quiet`: access log and audit trail off; `--only policy`: per-tool scopes and
  // list filtering on (the throughput mode's policy file); `--only introspection`: opaque tokens
  // through the local introspection endpoint, warm cache.
  const quiet = options.only.includes('jwt-rs256-quiet')
  const policy = options.only.includes('policy')
  const introspection = options.only.includes('introspection')
  const dpop = options.only.includes('dpop-es256')
  const env: Record<string, string> = { ...baseGatewayEnv(backend, keys) }
  if (quiet) Object.assign(env, { MCP_LOG_LEVEL: 'warn', MCP_AUDIT_LOG: 'off' })
  if (policy) {
    const file = join(ctx.dir, 'policy.yaml')
    writeFileSync(file, POLICY_YAML)
    delete env.MCP_REQUIRED_SCOPE
    env.MCP_CONFIG = file
  }
  const variant = `${quiet ? 'profileQuiet' : policy ? 'profilePolicy' : introspection ? 'profileIntrospection' : dpop ? 'profileDpop' : 'profile'}${options.rates[0] === undefined ? '' : `@${options.rates[0]}`}`
  const launch = {
    ...built,
    nodeFlags: ['--cpu-prof', '--cpu-prof-dir', profDir, '--cpu-prof-interval', '100'],
  }
  let gateway: GatewayProcess
  let tokens: string[]
  let dpopRow: Scenario | undefined
  if (dpop) {
    const started = await startDpopRow(launch, env, keys, ctx.dir, options.connections)
    if ('reason' in started) throw new Error(`the DPoP gateway did not start: ${started.reason}`)
    dpopRow = started.scenario
    gateway = started.gateway
    tokens = []
  } else if (introspection) {
    const started = await startIntrospectionGateway(backend, ctx.dir, launch)
    if (!started.ok) throw new Error(`the introspection gateway did not start: ${started.reason}`)
    const { server } = started.value
    ctx.defer(() => server.close())
    gateway = started.value.gateway
    tokens = started.value.tokens
  } else {
    const started = await tryGateway('gateway-profiled', { ...launch, env })
    if (!started.ok) throw new Error(`the gateway did not start: ${started.reason}`)
    gateway = started.value
    tokens = mintTokens(keys.rs256, `${gateway.url}/mcp`, TOKEN_SET_SIZE)
  }
  ctx.defer(() => gateway.child.stop())
  // `--rate R`: the profile of a gateway that is not saturated (fewer requests per wake-up).
  const rate = options.rates[0]
  const scenario: Scenario = {
    id: variant,
    label: `gateway ${introspection ? 'introspection' : dpop ? 'DPoP-bound JWT, ES256 proofs' : 'JWT RS256'}${quiet ? ', logs+audit off' : policy ? ', per-tool policy' : ''}${rate === undefined ? '' : ` @ ${rate} req/s`} (profiled)`,
    kind: rate === undefined ? 'throughput' : 'rate',
    rate,
    connections: options.connections,
    origin: gateway.url,
    targetPid: gateway.child.pid,
    requests: mcpRequests(tokens),
    ...(dpopRow === undefined ? {} : { requests: dpopRow.requests, requestsFor: dpopRow.requestsFor }),
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
  const summary = summarizeProfile(JSON.parse(text) as CpuProfile, from, to, built.root ?? REPO_ROOT)

  console.log(
    `\nprofiled run: ${run.requestsPerSecond.toFixed(0)} req/s, ${run.targetCpuUs.toFixed(0)} µs gateway CPU/req ` +
      `(profiling adds overhead), window ${summary.windowMs} ms, main thread idle ${summary.idlePercent}%\n`,
  )
  console.log(formatCosts('Self time by function', summary.selfByFunction))
  console.log(`\n${formatCosts('Self time by file', summary.selfByFile)}`)
  console.log(`\n${formatCosts('Inclusive time, gateway code (src/)', summary.inclusiveGateway)}`)
  console.log(`\nprofile kept at ${kept}`)
  writeSection(options.out, variant, { finishedAt: new Date().toISOString(), machine: ctx.machine, run, profile: kept, summary })
}
