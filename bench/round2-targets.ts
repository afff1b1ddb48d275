import { median, type RunRecord } from './measure.js'
import { pairedRatio, type ScenarioSummary, type TargetCheck } from './report.js'

/**
 * Issue 17's targets (performance, round 2), each a ratio of two rows of the same run: against
 * the JWT gateway, against nginx (the C reference) or against the gateway's own saturated figure.
 * Ratios are taken round by round (same round, same moment of the machine) and their median kept.
 */
export function checkRound2Targets(
  summaries: readonly ScenarioSummary[],
  runs: ReadonlyMap<string, readonly RunRecord[]>,
  paired: ReadonlyMap<string, readonly RunRecord[]> | undefined,
  rates: readonly number[],
  baseline: ReadonlyMap<string, readonly RunRecord[]> | undefined,
): TargetCheck[] {
  const has = (id: string) => (runs.get(id)?.length ?? 0) > 0
  const cpu = (r: RunRecord) => r.targetCpuUs
  const out: TargetCheck[] = []

  // 1. A cached introspection answer costs what a cached verified JWT costs, saturated and at each rate.
  {
    const parts: string[] = []
    const ratios: number[] = []
    if (has('introspection') && has('jwt-rs256')) {
      const from = paired?.has('introspection') === true ? paired : runs
      const r = pairedRatio(from, 'introspection', 'jwt-rs256', cpu)
      ratios.push(r)
      parts.push(`saturated ${r.toFixed(2)}x (${from === paired ? 'paired phase' : 'rounds'})`)
    }
    for (const rate of rates) {
      if (!has(`introspection@${rate}`) || !has(`jwt-rs256@${rate}`)) continue
      const r = pairedRatio(runs, `introspection@${rate}`, `jwt-rs256@${rate}`, cpu)
      ratios.push(r)
      parts.push(`@${rate} ${r.toFixed(2)}x`)
    }
    out.push({
      target: 'introspection (warm) CPU/req <= 1.0x JWT, saturated and at the fixed rates',
      measured: parts.length === 0 ? 'not measured' : parts.join(', '),
      met: ratios.length === 0 ? undefined : ratios.every((r) => r <= 1.0),
    })
  }

  // 2. JWT against the plain nginx proxy (access log on), both saturated.
  if (has('jwt-rs256') && has('nginx')) {
    const r = pairedRatio(runs, 'jwt-rs256', 'nginx', cpu)
    // Beside it, for the record: the introspection gateway against nginx auth_request (cached).
    const auth = has('introspection') && has('nginx-auth') ? `; introspection vs nginx auth_request ${pairedRatio(runs, 'introspection', 'nginx-auth', cpu).toFixed(2)}x` : ''
    // The floors under it: Node on raw sockets, and node:http, each against nginx in the same rounds.
    const floors = ['node-socket-proxy', 'node-proxy']
      .filter(has)
      .map((id) => `${id} ${pairedRatio(runs, id, 'nginx', cpu).toFixed(2)}x`)
    const floor = floors.length === 0 ? '' : `; floors: ${floors.join(', ')}`
    out.push({ target: 'JWT (warm) CPU/req at saturation <= 2.0x nginx reverse proxy (access log on)', measured: `${r.toFixed(2)}x${auth}${floor}`, met: r <= 2.0 })
  } else {
    out.push({ target: 'JWT (warm) CPU/req at saturation <= 2.0x nginx reverse proxy (access log on)', measured: 'not measured (no nginx row: not installed or not selected)', met: undefined })
  }

  // 3. What a request costs at a moderate fixed rate against the same gateway saturated.
  {
    const rate = rates.includes(2000) ? 2000 : rates.length > 0 ? Math.min(...rates) : undefined
    const target = 'at 2k req/s fixed rate, JWT CPU/req <= 1.5x its own saturated figure'
    if (rate !== undefined && has(`jwt-rs256@${rate}`) && has('jwt-rs256')) {
      const r = pairedRatio(runs, `jwt-rs256@${rate}`, 'jwt-rs256', cpu)
      const others = ['nginx', 'introspection']
        .filter((id) => has(`${id}@${rate}`) && has(id))
        .map((id) => `${id} ${pairedRatio(runs, `${id}@${rate}`, id, cpu).toFixed(2)}x`)
      out.push({
        target,
        measured: `${r.toFixed(2)}x at ${rate} req/s${others.length > 0 ? ` (${others.join(', ')})` : ''}`,
        met: rate === 2000 ? r <= 1.5 : undefined,
      })
    } else {
      out.push({ target, measured: 'not measured (--rate 0)', met: undefined })
    }
  }

  // 4. Added p50 at one connection against nginx's added p50, round by round.
  {
    const target = 'added p50 at 1 connection <= 1.3x the nginx proxy added p50'
    const gw = summaries.find((s) => s.id === 'jwt-rs256-1c')
    const ng = summaries.find((s) => s.id === 'nginx-1c')
    if (gw !== undefined && ng !== undefined) {
      const r = gw.addedP50Ms / ng.addedP50Ms
      const floors = ['node-socket-proxy-1c', 'node-proxy-1c']
        .map((id) => summaries.find((s) => s.id === id))
        .filter((s) => s !== undefined)
        .map((s) => `${s.id} ${(s.addedP50Ms / ng.addedP50Ms).toFixed(2)}x`)
      out.push({
        target,
        measured: `${r.toFixed(2)}x (+${(gw.addedP50Ms * 1000).toFixed(0)} µs vs +${(ng.addedP50Ms * 1000).toFixed(0)} µs)${floors.length === 0 ? '' : `; floors: ${floors.join(', ')}`}`,
        met: ng.addedP50Ms > 0 ? r <= 1.3 : undefined,
      })
    } else {
      out.push({ target, measured: 'not measured (no nginx-1c or jwt-rs256-1c row: nginx not installed or not selected)', met: undefined })
    }
  }

  // 5. No regression: only a run with --baseline can tell (and --memory for the memory half).
  {
    const target = 'no regression beyond noise (--baseline), memory flat over 1M tokens (--memory)'
    if (baseline === undefined) {
      out.push({ target, measured: 'not judged in this run: needs --baseline REF (and --memory)', met: undefined })
    } else {
      const ratios = [...baseline.keys()]
        .filter((id) => id.endsWith('-baseline') && !id.endsWith('-1c-baseline'))
        .map((id) => ({ id: id.slice(0, -'-baseline'.length), r: pairedRatio(baseline, id.slice(0, -'-baseline'.length), id, cpu) }))
        .filter((x) => Number.isFinite(x.r))
      out.push({
        target,
        measured: ratios.length === 0 ? 'no baseline rows' : `CPU vs baseline ${ratios.map((x) => `${x.id} ${x.r.toFixed(2)}x`).join(', ')} (median ${median(ratios.map((x) => x.r)).toFixed(2)}; memory: --memory)`,
        met: ratios.length === 0 ? undefined : ratios.every((x) => x.r <= 1.05),
      })
    }
  }
  return out
}
