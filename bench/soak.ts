import { connect, type Socket } from 'node:net'
import { Pool } from 'undici'
import { gatewayLaunch } from './build.js'
import { describeTools, type BenchContext } from './context.js'
import { accessTokenClaims, createBenchKeys, signJwt } from './keys.js'
import { cpuSeconds, rssBytes } from './proc-stats.js'
import { headersFor } from './requests.js'
import { writeSection } from './results-file.js'
import { baseGatewayEnv, ISSUER, mintTokens, startBackend, TOKEN_SCOPE, tryGateway } from './setup.js'

const SENDERS = 32
/** Sockets that open and send half a request head, reopened whenever the gateway closes them. */
const STALLED = 32
const SAMPLE_MS = 1000

interface Kind {
  readonly name: string
  readonly expect: number
  readonly token: () => string
  readonly body: string
}

const call = (name: string) => JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: { text: 'soak' } } })

/**
 * `--soak`: minutes of mixed traffic against one gateway (default 3; `--soak-minutes N`): valid
 * tokens calling and listing tools, expired, forged and malformed tokens, no token, a body naming
 * its tool twice, and stalled sockets that never finish their head. Every answer is checked against
 * the status its kind must get, transport errors are counted, and the gateway's resident memory is
 * sampled each second; the verdict needs no error, no unexpected status and no upward RSS trend.
 */
export async function runSoak(ctx: BenchContext): Promise<void> {
  const { options } = ctx
  const minutes = options.soakMinutes
  ctx.log(`tools: ${describeTools(ctx)}; soak mode: ${minutes} min, ${SENDERS} senders, ${STALLED} stalled sockets`)
  const backend = await startBackend()
  ctx.defer(() => backend.child.stop())
  const keys = createBenchKeys(ctx.dir)
  const { describe: gatewayRun, ...launch } = await gatewayLaunch(ctx)
  ctx.log(`gateway: ${gatewayRun}`)
  const started = await tryGateway('gateway-soak', { ...launch, env: baseGatewayEnv(backend, keys) })
  if (!started.ok) throw new Error(`the gateway did not start: ${started.reason}`)
  const gateway = started.value
  ctx.defer(() => gateway.child.stop())
  const pid = gateway.child.pid
  const audience = `${gateway.url}/mcp`

  const valid = mintTokens(keys.rs256, audience, 64)
  const rs = keys.rs256
  const expired = signJwt('RS256', rs.kid, rs.privateKey, { ...accessTokenClaims(ISSUER, audience, TOKEN_SCOPE, 'late', 60), exp: Math.floor(Date.now() / 1000) - 3600 })
  const otherAudience = signJwt('RS256', rs.kid, rs.privateKey, accessTokenClaims(ISSUER, 'https://elsewhere.example/mcp', TOKEN_SCOPE, 'lost', 3600))
  const forged = `${(valid[0] as string).slice(0, -8)}AAAAAAAA`
  let n = 0
  const anyValid = () => valid[n++ % valid.length] as string
  // Ten requests in each cycle: six valid, three with a bad token, one body read two ways.
  const cycle: Kind[] = [
    { name: 'valid tools/call', expect: 200, token: anyValid, body: call('echo') },
    { name: 'valid tools/list', expect: 200, token: anyValid, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} }) },
    { name: 'valid tools/call', expect: 200, token: anyValid, body: call('echo') },
    { name: 'expired token', expect: 401, token: () => expired, body: call('echo') },
    { name: 'valid tools/call', expect: 200, token: anyValid, body: call('echo') },
    { name: 'forged signature', expect: 401, token: () => forged, body: call('echo') },
    { name: 'valid tools/call', expect: 200, token: anyValid, body: call('echo') },
    { name: 'other audience / not a JWT', expect: 401, token: () => (n % 2 === 0 ? otherAudience : `opaque-${n}`), body: call('echo') },
    { name: 'valid tools/call', expect: 200, token: anyValid, body: call('echo') },
    {
      name: 'duplicate tool name',
      expect: 400,
      token: anyValid,
      body: '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"delete_repo","name":"echo","arguments":{}}}',
    },
  ]

  const statuses = new Map<string, number>()
  const unexpected = new Map<string, number>()
  const errors = new Map<string, number>()
  const bump = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1)
  let sent = 0
  const deadline = performance.now() + minutes * 60_000
  const pool = new Pool(gateway.url, { connections: SENDERS, pipelining: 1 })
  ctx.defer(() => pool.close())

  const { hostname, port } = new URL(gateway.url)
  let stalledClosed = 0
  const stalled = new Set<Socket>()
  const openStalled = () => {
    if (performance.now() >= deadline) return
    const socket = connect(Number(port), hostname, () => socket.write(`POST /mcp HTTP/1.1\r\nhost: ${hostname}\r\ncontent-type: appl`))
    stalled.add(socket)
    // Reading, so the gateway's close (after its 408) is seen.
    socket.resume()
    socket.on('error', () => {})
    socket.once('close', () => {
      stalled.delete(socket)
      stalledClosed++
      openStalled()
    })
  }
  for (let i = 0; i < STALLED; i++) openStalled()
  ctx.defer(() => {
    for (const socket of stalled) socket.destroy()
  })

  const t0 = performance.now()
  const cpu0 = cpuSeconds(pid)
  const samples: { seconds: number; rssMiB: number; sent: number }[] = []
  const sampler = setInterval(() => {
    const seconds = (performance.now() - t0) / 1000
    samples.push({ seconds, rssMiB: rssBytes(pid) / 2 ** 20, sent })
    if (samples.length % 30 === 0) {
      ctx.log(`${seconds.toFixed(0)} s: ${sent} requests, RSS ${(samples.at(-1)?.rssMiB ?? 0).toFixed(1)} MiB, errors ${sum(errors)}, unexpected ${sum(unexpected)}`)
    }
  }, SAMPLE_MS)
  ctx.defer(() => clearInterval(sampler))

  let next = 0
  const sender = async () => {
    while (performance.now() < deadline) {
      const kind = cycle[next++ % cycle.length] as Kind
      try {
        const response = await pool.request({ path: '/mcp', method: 'POST', headers: headersFor(kind.token()), body: kind.body })
        await response.body.dump()
        bump(statuses, String(response.statusCode))
        if (response.statusCode !== kind.expect) bump(unexpected, `${kind.name}: ${response.statusCode}`)
      } catch (error) {
        bump(errors, (error as NodeJS.ErrnoException).code ?? (error as Error).name)
      }
      sent++
    }
  }
  await Promise.all(Array.from({ length: SENDERS }, sender))
  const seconds = (performance.now() - t0) / 1000
  const gatewayCpu = cpuSeconds(pid) - cpu0
  clearInterval(sampler)

  // Bounded = no upward trend after the first fifth (warm-up): the later half's median RSS within
  // max(16 MiB, 10%) of the earlier half's, the rule of --memory.
  const steady = samples.slice(Math.floor(samples.length / 5))
  const mid = steady.length >> 1
  const early = medianOf(steady.slice(0, mid).map((s) => s.rssMiB))
  const late = medianOf(steady.slice(mid).map((s) => s.rssMiB))
  const peak = Math.max(...samples.map((s) => s.rssMiB))
  const bounded = steady.length >= 4 && late - early < Math.max(16, 0.1 * early)
  const clean = sum(errors) === 0 && sum(unexpected) === 0
  const verdict = clean && bounded ? 'PASS' : 'FAIL'

  console.log(`\nSoak: ${sent} requests in ${seconds.toFixed(0)} s (${(sent / seconds).toFixed(0)}/s), ${SENDERS} senders, ${STALLED} stalled sockets`)
  console.log(`statuses: ${[...statuses].map(([s, c]) => `${s}: ${c}`).join(', ')}`)
  console.log(`unexpected statuses: ${sum(unexpected) === 0 ? 'none' : [...unexpected].map(([k, c]) => `${k} x${c}`).join(', ')}`)
  console.log(`transport errors: ${sum(errors) === 0 ? 'none' : [...errors].map(([k, c]) => `${k} x${c}`).join(', ')}`)
  console.log(`stalled sockets closed by the gateway (request timeout): ${stalledClosed}`)
  console.log(`gateway RSS: first sample ${round(samples[0]?.rssMiB ?? 0)} MiB, peak ${round(peak)} MiB, steady medians ${round(early)} -> ${round(late)} MiB`)
  console.log(`gateway CPU per request: ${((gatewayCpu * 1e6) / Math.max(1, sent)).toFixed(0)} µs`)
  console.log(`verdict: ${verdict} (${clean ? 'no errors, every status as expected' : 'errors or unexpected statuses'}; RSS ${bounded ? 'bounded' : 'NOT bounded'})`)

  writeSection(options.out, 'soak', {
    finishedAt: new Date().toISOString(),
    machine: ctx.machine,
    minutes,
    seconds: round(seconds),
    requests: sent,
    statuses: Object.fromEntries(statuses),
    unexpected: Object.fromEntries(unexpected),
    errors: Object.fromEntries(errors),
    stalledClosed,
    peakRssMiB: round(peak),
    steadyEarlyMedianMiB: round(early),
    steadyLateMedianMiB: round(late),
    gatewayCpuUsPerRequest: round((gatewayCpu * 1e6) / Math.max(1, sent)),
    verdict,
    samples: samples.map((s) => ({ seconds: round(s.seconds), rssMiB: round(s.rssMiB), sent: s.sent })),
  })
  console.log(`\nwrote ${options.out}`)
  if (verdict !== 'PASS') process.exitCode = 1
}

function sum(map: Map<string, number>): number {
  let total = 0
  for (const count of map.values()) total += count
  return total
}

function medianOf(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  const m = sorted.length >> 1
  return sorted.length % 2 === 1 ? (sorted[m] as number) : ((sorted[m - 1] as number) + (sorted[m] as number)) / 2
}

function round(n: number): number {
  return Math.round(n * 10) / 10
}
