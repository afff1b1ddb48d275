import { createServer } from 'node:net'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { spawnChild, type Child } from './child-process.js'

export const REPO_ROOT = join(import.meta.dirname, '..')

export interface GatewayLaunch {
  /** `MCP_*` variables of the scenario (listen host/port and canonical URI are added here). */
  env: Record<string, string>
  /** Run `dist/cli/main.js` instead of the TypeScript sources through tsx. */
  dist?: boolean
  /** A copy of the repository to run instead of this one (`--baseline`). */
  root?: string
  /** Extra node flags (`--cpu-prof`, ...). */
  nodeFlags?: readonly string[]
  /** Where the gateway's stdout (access log, audit trail) goes; default: discarded (/dev/null). */
  logFile?: string
  echoStderr?: boolean
}

export interface GatewayProcess {
  readonly child: Child
  /** Base URL, e.g. `http://127.0.0.1:41234`; the MCP endpoint is `${url}/mcp`. */
  readonly url: string
  readonly port: number
}

/** A free port on 127.0.0.1 (the canonical URI must name the port before the gateway starts). */
export function reservePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

/**
 * Starts the gateway the way an operator does (`mcp-resource-gateway serve`, configured by `MCP_*`
 * variables) in its own process, and waits until `/healthz` answers. Variables of the parent's
 * environment that start with `MCP_` are dropped so the scenario alone configures it.
 */
export async function startGatewayProcess(name: string, launch: GatewayLaunch): Promise<GatewayProcess> {
  const port = await reservePort()
  const base: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('MCP_')) base[key] = value
  const env = {
    ...base,
    MCP_LISTEN_HOST: '127.0.0.1',
    MCP_LISTEN_PORT: String(port),
    MCP_CANONICAL_URI: `http://127.0.0.1:${port}/mcp`,
    ...launch.env,
  }
  const root = launch.root ?? REPO_ROOT
  const distMain = join(root, 'dist/cli/main.js')
  if (launch.dist === true && !existsSync(distMain)) throw new Error('--dist: dist/cli/main.js is missing (run npm run build)')
  const entry = launch.dist === true ? [distMain] : ['--import', 'tsx', join(root, 'src/cli/main.ts')]
  const child = spawnChild(name, process.execPath, [...(launch.nodeFlags ?? []), ...entry, 'serve'], {
    env,
    cwd: root,
    echoStderr: launch.echoStderr,
    stdoutFile: launch.logFile ?? '/dev/null',
  })
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 30_000
  let exited = false
  void child.exited.then(() => {
    exited = true
  })
  while (!exited && Date.now() < deadline) {
    try {
      const response = await fetch(`${url}/healthz`)
      await response.arrayBuffer()
      if (response.ok) return { child, url, port }
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  await child.stop()
  throw new Error(`${name}: the gateway did not become healthy${exited ? ' (it exited)' : ''}\n${child.stderrTail()}`)
}
