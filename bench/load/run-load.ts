import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runToEnd } from '../child-process.js'
import type { LoadResult, LoadSpec, LoadTool } from './load-spec.js'
import { runWrk } from './wrk.js'

export interface LoadGenerator {
  readonly tool: LoadTool
  /** wrk's path when `tool` is wrk. */
  readonly path: string | undefined
}

/**
 * One measured run with the chosen tool, always in a separate process. A fixed rate is always
 * paced by `paced-child.ts` (wrk holds no rate; autocannon's spends a per-second quota in bursts).
 */
export async function runLoad(generator: LoadGenerator, spec: LoadSpec, dir: string): Promise<LoadResult> {
  if (generator.tool === 'wrk' && spec.rate === undefined) return runWrk(generator.path as string, spec, dir)
  const file = join(dir, `load-${process.pid}-${Date.now()}.json`)
  writeFileSync(file, JSON.stringify(spec))
  const child = spec.rate === undefined ? 'autocannon-child.ts' : 'paced-child.ts'
  const out = await runToEnd(process.execPath, ['--import', 'tsx', join(import.meta.dirname, child), file])
  const line = out.trim().split('\n').pop() ?? ''
  return JSON.parse(line) as LoadResult
}
