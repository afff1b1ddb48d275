/**
 * Reads a V8 `.cpuprofile` (what `node --cpu-prof` writes) and says where the time went inside a
 * window: self time per function and per source file, and inclusive time of the gateway's own
 * functions. Sample times are CLOCK_MONOTONIC microseconds, the clock `process.hrtime` reads in
 * any process, so the window can be the load generator's run as measured by the benchmark.
 */
interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
  columnNumber: number
}
interface ProfileNode {
  id: number
  callFrame: CallFrame
  children?: number[]
}
export interface CpuProfile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

export interface CostLine {
  readonly name: string
  readonly ms: number
  readonly percent: number
}

export interface ProfileSummary {
  readonly windowMs: number
  readonly sampledMs: number
  readonly idlePercent: number
  readonly selfByFunction: readonly CostLine[]
  readonly selfByFile: readonly CostLine[]
  readonly inclusiveGateway: readonly CostLine[]
}

export function summarizeProfile(profile: CpuProfile, fromUs: number, toUs: number, repoRoot: string, top = 25): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)

  const selfUs = new Map<number, number>()
  let t = profile.startTime
  let windowUs = 0
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0
    t += delta
    if (t < fromUs || t > toUs) continue
    // A sample's delta is the time since the previous one: charge it to this sample's node.
    const id = profile.samples[i] as number
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta)
    windowUs += delta
  }

  const label = (f: CallFrame) => `${f.functionName || '(anonymous)'} ${shortUrl(f.url, repoRoot)}${f.url ? `:${f.lineNumber + 1}` : ''}`
  const fn = new Map<string, number>()
  const file = new Map<string, number>()
  const inclusive = new Map<string, number>()
  let idleUs = 0
  for (const [id, us] of selfUs) {
    const node = byId.get(id) as ProfileNode
    const f = node.callFrame
    if (f.functionName === '(idle)') idleUs += us
    fn.set(label(f), (fn.get(label(f)) ?? 0) + us)
    const fileKey = f.url ? shortUrl(f.url, repoRoot) : f.functionName
    file.set(fileKey, (file.get(fileKey) ?? 0) + us)
    // Inclusive time of the gateway's own code: each function once per stack.
    const seen = new Set<string>()
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const frame = (byId.get(cur) as ProfileNode).callFrame
      if (!isGatewayCode(frame.url)) continue
      const key = label(frame)
      if (seen.has(key)) continue
      seen.add(key)
      inclusive.set(key, (inclusive.get(key) ?? 0) + us)
    }
  }
  const busyUs = Math.max(1, windowUs - idleUs)
  const lines = (m: Map<string, number>, n: number): CostLine[] =>
    [...m]
      .filter(([name]) => name !== '(idle)' && !name.startsWith('(idle) '))
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, ms: Math.round(us / 100) / 10, percent: Math.round((us / busyUs) * 1000) / 10 }))
  return {
    windowMs: Math.round((toUs - fromUs) / 1000),
    sampledMs: Math.round(windowUs / 1000),
    idlePercent: Math.round((idleUs / Math.max(1, windowUs)) * 1000) / 10,
    selfByFunction: lines(fn, top),
    selfByFile: lines(file, top),
    inclusiveGateway: lines(inclusive, top),
  }
}

function shortUrl(url: string, repoRoot: string): string {
  if (url === '') return ''
  const path = url.startsWith('file://') ? decodeURIComponent(new URL(url).pathname) : url
  const nm = path.lastIndexOf('/node_modules/')
  if (nm !== -1) return path.slice(nm + 1)
  return path.startsWith(`${repoRoot}/`) ? path.slice(repoRoot.length + 1) : path
}

/** The gateway's own code: src/ through tsx, or the compiled dist/. */
function isGatewayCode(url: string): boolean {
  return !url.includes('/node_modules/') && (url.includes('/src/') || url.includes('/dist/'))
}

export function formatCosts(title: string, lines: readonly CostLine[]): string {
  return [`${title} (% of busy time)`, ...lines.map((l) => `  ${l.percent.toFixed(1).padStart(5)}%  ${l.ms.toFixed(1).padStart(8)} ms  ${l.name}`)].join('\n')
}
