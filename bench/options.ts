import { parseArgs } from 'node:util'

export type BenchMode = 'throughput' | 'workers' | 'memory' | 'profile' | 'soak'

export interface BenchOptions {
  readonly mode: BenchMode
  readonly quick: boolean
  /** Seconds per measured run. */
  readonly duration: number
  /** Rounds; each round runs every scenario once, in turn (A B C, C B A, ...). */
  readonly rounds: number
  /** Cycles of the paired phase (introspection, JWT RS256, policy in 1 s runs); 0: none. */
  readonly paired: number
  /** Fixed rates (req/s) of the open-loop rows; empty: none. */
  readonly rates: readonly number[]
  /** Connections of the throughput runs. */
  readonly connections: number
  /** `auto`: wrk when on PATH, else autocannon. */
  readonly loadgen: 'auto' | 'wrk' | 'autocannon'
  /** Run this repository's `dist/cli/main.js` (npm run build) instead of a fresh tsc build. */
  readonly dist: boolean
  /** Run the sources through tsx (no compile step; costs more per request than the build). */
  readonly tsx: boolean
  /** Also run a gateway whose hot-path files are taken from this git ref (before/after in one run). */
  readonly baseline: string | undefined
  /** Only these scenario ids (`x*` matches a prefix); the direct rows always run. */
  readonly only: readonly string[]
  /** Memory mode: distinct tokens to push. */
  readonly tokens: number
  /** Soak mode: minutes of mixed traffic. */
  readonly soakMinutes: number
  readonly out: string
  readonly verbose: boolean
}

const USAGE = `npm run bench -- [options]

Modes (default: throughput table):
  --workers           MCP_WORKER_PROCESSES 1 vs 2
  --memory            push many distinct tokens through the gateway and sample its RSS
  --profile           CPU profile of the gateway, JWT RS256 warm cache (writes bench/.tmp/*.cpuprofile);
                      --only jwt-rs256-quiet: access log and audit trail off; --only policy:
                      per-tool scopes and list filtering on; --only introspection: opaque tokens;
                      --only dpop-es256: DPoP-bound tokens, a fresh ES256 proof per request;
                      --rate R: under open-loop load at R req/s instead of saturation
  --soak              minutes of mixed traffic (valid, expired, forged and missing tokens, a
                      duplicate-name body, stalled sockets): statuses, errors, RSS, a verdict

Options:
  --quick             about a minute in all (2 s runs, 2 rounds; memory mode: 200k tokens)
  --duration S        seconds per run (default 3)
  --rounds N          rounds (default 5; more, shorter rounds resist drift better)
  --paired N          cycles of the paired phase that decides the ratio targets: introspection,
                      JWT RS256 and policy (and the revocation, lockout, exchange and DPoP rows
                      when selected) back to back in 1 s runs (default 20; --quick 6; 0: off)
  --rate R1,R2        also run JWT RS256, introspection, DPoP, nginx and direct at these fixed rates
                      (req/s, open-loop, paced by bench/load/paced-child.ts; default 2000,5000;
                      0: none)
  --connections N     connections of throughput runs (default 64)
  --loadgen TOOL      auto | wrk | autocannon (default auto: wrk when installed)
  --dist              run this repository's dist/cli/main.js (npm run build) instead of
                      compiling src/ into a temp tree first (the default: the gateway as shipped)
  --tsx               run src/ through tsx (starts sooner; closures cost more per request)
  --baseline REF      add a gateway whose src/proxy/, src/server/, src/token/, src/observability/
                      and src/common/ (whole directories) come from git REF (before/after, same
                      run); REF "." copies the working tree unchanged (A/A check); an absolute
                      path runs that prepared copy of the repository instead
  --only A,B*         only these scenario ids (a trailing * matches a prefix); the direct rows
                      always run (ids: direct, nginx, node-socket-proxy, node-proxy, jwt-rs256, jwt-es256,
                      jwt-rs256-quiet, jwt-rs256-baseline, introspection,
                      introspection-baseline, policy, policy-baseline, direct-1c,
                      jwt-rs256-1c, jwt-rs256-1c-baseline, nginx-1c, node-socket-proxy-1c, node-proxy-1c,
                      jwt-rs256-revocation, jwt-rs256-lockout; nginx-auth; at a fixed rate:
                      direct@R, nginx@R, nginx-auth@R, jwt-rs256@R, introspection@R)
  --tokens N          memory mode: distinct tokens (default 1000000)
  --soak-minutes N    soak mode: minutes (default 3; --quick 1)
  --out FILE          results file (default bench/results.json)
  --verbose           echo the gateway's stderr`

export function parseOptions(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      workers: { type: 'boolean', default: false },
      memory: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      soak: { type: 'boolean', default: false },
      'soak-minutes': { type: 'string' },
      quick: { type: 'boolean', default: false },
      duration: { type: 'string' },
      rounds: { type: 'string' },
      paired: { type: 'string' },
      connections: { type: 'string' },
      rate: { type: 'string' },
      loadgen: { type: 'string', default: 'auto' },
      dist: { type: 'boolean', default: false },
      tsx: { type: 'boolean', default: false },
      baseline: { type: 'string' },
      only: { type: 'string' },
      tokens: { type: 'string' },
      out: { type: 'string' },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  })
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
  const modes = (['workers', 'memory', 'profile', 'soak'] as const).filter((m) => values[m])
  if (modes.length > 1) throw new Error(`choose one mode, not ${modes.map((m) => `--${m}`).join(' and ')}`)
  const loadgen = values.loadgen
  if (loadgen !== 'auto' && loadgen !== 'wrk' && loadgen !== 'autocannon') {
    throw new Error(`--loadgen: expected auto, wrk or autocannon (got "${loadgen}")`)
  }
  const quick = values.quick
  return {
    mode: modes[0] ?? 'throughput',
    quick,
    duration: positive('--duration', values.duration, quick ? 2 : 3),
    rounds: positive('--rounds', values.rounds, quick ? 2 : 5),
    paired: values.paired === '0' ? 0 : positive('--paired', values.paired, quick ? 6 : 20),
    // The table runs fixed rates by default; --profile only when asked (its first rate).
    rates: parseRates(values.rate ?? (modes[0] === undefined ? '2000,5000' : '0')),
    connections: positive('--connections', values.connections, 64),
    loadgen,
    dist: values.dist,
    tsx: values.tsx,
    baseline: values.baseline,
    only: values.only === undefined ? [] : values.only.split(',').filter((s) => s !== ''),
    tokens: positive('--tokens', values.tokens, quick ? 200_000 : 1_000_000),
    soakMinutes: positive('--soak-minutes', values['soak-minutes'], quick ? 1 : 3),
    out: values.out ?? new URL('./results.json', import.meta.url).pathname,
    verbose: values.verbose,
  }
}

function parseRates(raw: string): number[] {
  if (raw === '0') return []
  return raw.split(',').filter((s) => s !== '').map((s) => positive('--rate', s, 0))
}

function positive(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag}: expected a positive number (got "${raw}")`)
  return n
}
