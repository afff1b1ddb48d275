import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { Pool } from 'undici'
import { gatewayLaunch } from './build.js'
import { describeTools, type BenchContext } from './context.js'
import { REPO_ROOT } from './gateway-process.js'
import { createBenchKeys } from './keys.js'
import { cpuSeconds, rssBytes } from './proc-stats.js'
import { headersFor } from './requests.js'
import { writeSection } from './results-file.js'
import { baseGatewayEnv, ISSUER, startBackend, TOKEN_SCOPE, tryGateway } from './setup.js'

const BATCH = 500
const SENDERS = 32
const MAX_QUEUED = 8_000
const BODY = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'm' } } })

interface Sample {
  tokens: number
  seconds: number
  rssMiB: number
}

/**
 * `--memory`: distinct valid RS256 tokens (default 1M; 200k with --quick) through the real
 * verifier path, each used once, while the gateway's resident memory is sampled. Tokens are minted
 * by two worker threads as the sender consumes them (node:crypto RSA signing, about 4–5k per
 * second per core here), so minting competes with the gateway for the two cores: the run measures
 * memory, not speed, although the cold-verify rate is reported too.
 */
export async function runMemory(ctx: BenchContext): Promise<void> {
  const { options } = ctx
  const total = Math.floor(options.tokens)
  ctx.log(`tools: ${describeTools(ctx)}; memory mode: ${total} distinct tokens`)
  const backend = await startBackend()
  ctx.defer(() => backend.child.stop())
  const keys = createBenchKeys(ctx.dir)
  const { describe: gatewayRun, ...launch } = await gatewayLaunch(ctx)
  ctx.log(`gateway: ${gatewayRun}`)
  const started = await tryGateway('gateway-memory', { ...launch, env: baseGatewayEnv(backend, keys) })
  if (!started.ok) throw new Error(`the gateway did not start: ${started.reason}`)
  const gateway = started.value
  ctx.defer(() => gateway.child.stop())
  const audience = `${gateway.url}/mcp`
  const pid = gateway.child.pid
  const cacheSize = readCacheSize()

  // Worker threads do not inherit tsx's loader hooks: the worker loads the TypeScript file
  // through tsx's API itself.
  const workerFile = pathToFileURL(join(import.meta.dirname, 'mint-worker.ts')).href
  const bootstrap = `import('tsx/esm/api').then(({ tsImport }) => tsImport(${JSON.stringify(workerFile)}, ${JSON.stringify(import.meta.url)}))`
  const workers = [0, 1].map(
    (i) =>
      new Worker(bootstrap, {
        eval: true,
        workerData: { privatePem: keys.rs256.privatePem, kid: keys.rs256.kid, issuer: ISSUER, audience, scope: TOKEN_SCOPE, prefix: `m${i}` },
      }),
  )
  ctx.defer(async () => {
    await Promise.all(workers.map((w) => w.terminate()))
  })

  const queue: string[] = []
  let minted = 0
  let requested = 0
  const waiting: (() => void)[] = []
  const wake = () => {
    while (waiting.length > 0) (waiting.shift() as () => void)()
  }
  const refill = (worker: Worker) => {
    if (requested >= total || queue.length > MAX_QUEUED) return
    const count = Math.min(BATCH, total - requested)
    requested += count
    worker.postMessage({ count })
  }
  for (const worker of workers) {
    worker.on('message', (tokens: string[]) => {
      minted += tokens.length
      queue.push(...tokens)
      wake()
      refill(worker)
    })
    refill(worker)
    refill(worker)
  }
  const take = async (): Promise<string | undefined> => {
    for (;;) {
      const token = queue.shift()
      if (token !== undefined) {
        if (queue.length < MAX_QUEUED / 2) for (const w of workers) refill(w)
        return token
      }
      if (minted >= total) return undefined
      await new Promise<void>((resolve) => waiting.push(resolve))
    }
  }

  const idleRss = rssBytes(pid)
  const samples: Sample[] = [{ tokens: 0, seconds: 0, rssMiB: idleRss / 2 ** 20 }]
  const pool = new Pool(gateway.url, { connections: SENDERS, pipelining: 1 })
  ctx.defer(() => pool.close())
  let sent = 0
  const statuses = new Map<number, number>()
  const t0 = performance.now()
  const cpu0 = cpuSeconds(pid)
  let nextReport = 50_000
  const sampler = setInterval(() => {
    samples.push({ tokens: sent, seconds: (performance.now() - t0) / 1000, rssMiB: rssBytes(pid) / 2 ** 20 })
    if (sent >= nextReport) {
      const last = samples[samples.length - 1] as Sample
      ctx.log(`${sent} tokens, ${last.seconds.toFixed(0)} s, gateway RSS ${last.rssMiB.toFixed(1)} MiB`)
      while (nextReport <= sent) nextReport += 50_000
    }
  }, 500)
  ctx.defer(() => clearInterval(sampler))

  const sender = async () => {
    for (;;) {
      const token = await take()
      if (token === undefined) return
      const response = await pool.request({ path: '/mcp', method: 'POST', headers: headersFor(token), body: BODY })
      await response.body.dump()
      statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1)
      sent++
    }
  }
  await Promise.all(Array.from({ length: SENDERS }, sender))
  const seconds = (performance.now() - t0) / 1000
  const gatewayCpu = cpuSeconds(pid) - cpu0
  clearInterval(sampler)
  await new Promise((resolve) => setTimeout(resolve, 2000))
  samples.push({ tokens: sent, seconds: (performance.now() - t0) / 1000, rssMiB: rssBytes(pid) / 2 ** 20 })

  const at = (n: number) => samples.find((s) => s.tokens >= n)
  const peak = Math.max(...samples.map((s) => s.rssMiB))
  const final = samples[samples.length - 1] as Sample
  const checkpoints = [cacheSize.entries, 2 * cacheSize.entries, 100_000, 250_000, 500_000, 750_000, total]
    .filter((n, i, a) => n <= total && a.indexOf(n) === i)
    .map((n) => ({ tokens: n, rssMiB: round(at(n)?.rssMiB ?? final.rssMiB) }))
  const ok = statuses.get(200) ?? 0
  // Bounded = no trend once the cache is full: V8 grows and shrinks its heap under allocation
  // pressure, so single samples swing by tens of MiB; a leak shows as the later half sitting
  // higher than the earlier half (100 bytes kept per token would be +50 MiB over 500k tokens).
  const afterFull = samples.filter((s) => s.tokens >= 2 * cacheSize.entries)
  const mid = afterFull.length >> 1
  const earlyMedian = medianOf(afterFull.slice(0, mid).map((s) => s.rssMiB))
  const lateMedian = medianOf(afterFull.slice(mid).map((s) => s.rssMiB))
  const slope = slopePer100k(afterFull)
  const bounded = afterFull.length >= 4 && lateMedian - earlyMedian < Math.max(16, 0.1 * earlyMedian)

  console.log(`\nMemory: ${sent} distinct RS256 tokens through the gateway in ${seconds.toFixed(0)} s (${(sent / seconds).toFixed(0)} tokens/s, every one a cold verify)`)
  console.log(`statuses: ${[...statuses].map(([s, n]) => `${s}: ${n}`).join(', ')}`)
  console.log(`verified-token cache: ${cacheSize.entries} entries (${cacheSize.source})`)
  console.log(`gateway RSS: idle ${round(idleRss / 2 ** 20)} MiB, peak ${round(peak)} MiB, final ${round(final.rssMiB)} MiB`)
  for (const c of checkpoints) console.log(`  after ${String(c.tokens).padStart(8)} tokens: ${c.rssMiB} MiB`)
  console.log(
    `once the cache was full twice over (${2 * cacheSize.entries} tokens): median RSS ${round(earlyMedian)} MiB in the first half, ` +
      `${round(lateMedian)} MiB in the second; trend ${round(slope)} MiB per 100k tokens -> ` +
      `${afterFull.length < 4 ? 'too few samples to judge (push more tokens)' : bounded ? 'bounded' : 'NOT bounded'}`,
  )
  console.log(`gateway CPU per cold request (verify + proxy): ${((gatewayCpu * 1e6) / Math.max(1, sent)).toFixed(0)} µs`)

  writeSection(options.out, 'memory', {
    finishedAt: new Date().toISOString(),
    machine: ctx.machine,
    tokens: sent,
    ok,
    statuses: Object.fromEntries(statuses),
    seconds: round(seconds),
    tokensPerSecond: round(sent / seconds),
    gatewayCpuUsPerColdRequest: round((gatewayCpu * 1e6) / Math.max(1, sent)),
    cacheEntries: cacheSize.entries,
    idleRssMiB: round(idleRss / 2 ** 20),
    peakRssMiB: round(peak),
    finalRssMiB: round(final.rssMiB),
    checkpoints,
    afterFullEarlyMedianMiB: round(earlyMedian),
    afterFullLateMedianMiB: round(lateMedian),
    trendMiBPer100kTokens: round(slope),
    bounded,
    samples: samples.map((s) => ({ tokens: s.tokens, seconds: round(s.seconds), rssMiB: round(s.rssMiB) })),
  })
  console.log(`\nwrote ${options.out}`)
  if (ok !== sent) throw new Error(`${sent - ok} of ${sent} requests were not 200: the memory figure is not about valid tokens`)
}

/** The verified-token cache bound, read from the source so the report names the real figure. */
function readCacheSize(): { entries: number; source: string } {
  try {
    const text = readFileSync(join(REPO_ROOT, 'src/token/create-verifier.ts'), 'utf8')
    const match = /DEFAULT_CACHE_SIZE\s*=\s*([\d_]+)/.exec(text)
    if (match !== null) return { entries: Number((match[1] as string).replaceAll('_', '')), source: 'src/token/create-verifier.ts DEFAULT_CACHE_SIZE' }
  } catch {
    // Fall through.
  }
  return { entries: 10_000, source: 'assumed: DEFAULT_CACHE_SIZE not found in src/token/create-verifier.ts' }
}

function medianOf(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  const m = sorted.length >> 1
  return sorted.length % 2 === 1 ? (sorted[m] as number) : ((sorted[m - 1] as number) + (sorted[m] as number)) / 2
}

/** Least-squares slope of RSS against tokens pushed, in MiB per 100k tokens. */
function slopePer100k(samples: readonly Sample[]): number {
  const n = samples.length
  if (n < 2) return Number.NaN
  const mx = samples.reduce((a, s) => a + s.tokens, 0) / n
  const my = samples.reduce((a, s) => a + s.rssMiB, 0) / n
  let num = 0
  let den = 0
  for (const s of samples) {
    num += (s.tokens - mx) * (s.rssMiB - my)
    den += (s.tokens - mx) ** 2
  }
  return den === 0 ? Number.NaN : (num / den) * 100_000
}

function round(n: number): number {
  return Math.round(n * 10) / 10
}
