import { copyFileSync, mkdirSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { runToEnd } from './child-process.js'
import type { BenchContext } from './context.js'
import { REPO_ROOT, type GatewayLaunch } from './gateway-process.js'

/** How a mode starts its gateways: which tree, built or through tsx. */
export type Launch = Pick<GatewayLaunch, 'dist' | 'root' | 'echoStderr'> & {
  /** Said in the results: what ran. */
  readonly describe: string
}

/**
 * The gateway as it ships: `src/` of `from` (this repository, or a `--baseline` tree) compiled by
 * tsc with the project's own tsconfig.build.json into a temp tree, and run as `dist/cli/main.js`,
 * as `npm start` and the installed bin do. Through tsx the same code costs more, and unevenly:
 * esbuild names every closure a request creates (`__name`, a `defineProperty` each: 0.5 µs per
 * filtered list in a profile), and tsx's loader runs a thread of its own. `--tsx` still runs the
 * sources (no compile step), `--dist` this repository's own `dist/` (`npm run build`). A tree that
 * does not compile runs through tsx, and the run says so.
 */
export async function gatewayLaunch(ctx: BenchContext, from = REPO_ROOT, name = 'gateway-build'): Promise<Launch> {
  const { options } = ctx
  const echoStderr = options.verbose
  if (options.tsx) return { dist: false, root: from, echoStderr, describe: `${from === REPO_ROOT ? 'src' : from}/cli/main.ts serve (tsx)` }
  if (options.dist && from === REPO_ROOT) return { dist: true, echoStderr, describe: 'dist/cli/main.js serve (npm run build)' }
  const root = join(ctx.dir, name)
  mkdirSync(root)
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'), 'dir')
  copyFileSync(join(from, 'package.json'), join(root, 'package.json'))
  try {
    await runToEnd(process.execPath, [
      join(REPO_ROOT, 'node_modules/typescript/bin/tsc'),
      ...['-p', join(from, 'tsconfig.build.json'), '--outDir', join(root, 'dist')],
      ...['--declaration', 'false', '--declarationMap', 'false'],
    ])
    return { dist: true, root, echoStderr, describe: `${from === REPO_ROOT ? 'src' : `${from}/src`} compiled by tsc, dist/cli/main.js serve` }
  } catch (error) {
    ctx.log(`tsc failed for ${from}; its gateways run through tsx instead: ${(error as Error).message.slice(0, 300)}`)
    return { dist: false, root: from, echoStderr, describe: `${from === REPO_ROOT ? 'src' : from}/cli/main.ts serve (tsx, tsc failed)` }
  }
}
