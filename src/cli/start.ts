import { parseArgs } from 'node:util'
import { ENV_KEYS } from '../config/env.js'
import { serve } from './serve.js'

const USAGE = `Usage: mcp-resource-gateway start [--port N] [--as-port N] [--backend-port N]

With a configuration (--config, MCP_CONFIG or any MCP_* variable) this is \`serve\`. Without one it
runs the local demo on 127.0.0.1: the gateway (--port, default 8080), the demo authorization server
(--as-port, default 9400) and the demo MCP backend (--backend-port, default 9401); 0 picks a free port.
SIGTERM or SIGINT stops all three.`

/** `npm start` serves a real configuration when one is given and runs the demo otherwise. */
export async function start(argv: readonly string[]): Promise<number> {
  if (isConfigured(argv)) return serve(argv)
  let ports: DemoPorts
  try {
    ports = parseDemoPorts(argv)
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`)
    return 2
  }
  return (await import('../demo/main.js')).runDemoUntilSignal(ports)
}

function isConfigured(argv: readonly string[]): boolean {
  if (argv.includes('--config') || argv.includes('-c') || process.env.MCP_CONFIG) return true
  return Object.keys(ENV_KEYS).some((name) => process.env[name] !== undefined && process.env[name] !== '')
}

export interface DemoPorts {
  gatewayPort?: number
  asPort?: number
  backendPort?: number
}

/** The demo's flags; an unknown flag or a bad port is an error, never silently ignored. */
export function parseDemoPorts(argv: readonly string[]): DemoPorts {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      port: { type: 'string' },
      'as-port': { type: 'string' },
      'backend-port': { type: 'string' },
    },
  })
  const ports: DemoPorts = {}
  if (values.port !== undefined) ports.gatewayPort = port('--port', values.port)
  if (values['as-port'] !== undefined) ports.asPort = port('--as-port', values['as-port'])
  if (values['backend-port'] !== undefined) ports.backendPort = port('--backend-port', values['backend-port'])
  return ports
}

function port(flag: string, text: string): number {
  const n = Number(text)
  if (!/^\d+$/.test(text) || n > 65535) throw new TypeError(`${flag} must be a port number (0-65535), got "${text}"`)
  return n
}
