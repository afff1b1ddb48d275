#!/usr/bin/env node
import { ConfigError } from '../errors.js'
import { serve } from './serve.js'

const USAGE = `mcp-resource-gateway: an OAuth 2.1 Resource Server in front of an MCP server

Usage:
  mcp-resource-gateway serve [--config FILE] [--port N] [--host H] [--backend URL] [--strict]
  mcp-resource-gateway start [--port N] [--as-port N] [--backend-port N]
                                 serve when configured, else run the local demo on those ports
  mcp-resource-gateway check [--config FILE] [--strict] [--json] [--exchange-token-file FILE]
                                 validate the configuration and the live authorization server
  mcp-resource-gateway probe <URL> [--token T] [--json]
                                 walk a deployed MCP endpoint as a strict client would
  mcp-resource-gateway --help | --version

Configuration: a YAML file (--config or MCP_CONFIG), then MCP_* environment variables, then flags.
See docs/configuration.md.`

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case 'serve':
      return serve(rest)
    case 'check':
      return (await import('./check.js')).check(rest)
    case 'probe':
      return (await import('./probe.js')).probe(rest)
    case 'start':
      return (await import('./start.js')).start(rest)
    case '--version':
    case '-v': {
      const { createRequire } = await import('node:module')
      console.log((createRequire(import.meta.url)('../../package.json') as { version: string }).version)
      return 0
    }
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      console.log(USAGE)
      return command === undefined ? 2 : 0
    default:
      console.error(`unknown command "${command}"\n\n${USAGE}`)
      return 2
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    if (error instanceof ConfigError) console.error(error.message)
    else console.error(error)
    process.exitCode = 1
  },
)
