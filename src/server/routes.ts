import type { IncomingMessage, ServerResponse } from 'node:http'

export type Route =
  | { kind: 'metadata' }
  | { kind: 'health' }
  | { kind: 'ready' }
  | { kind: 'mcp' }
  | { kind: 'extra'; handler: (req: IncomingMessage, res: ServerResponse) => void }
  | { kind: 'not_found' }

export interface RouterOptions {
  resourcePath: string
  metadataPaths: readonly string[]
  extra?: ReadonlyMap<string, (req: IncomingMessage, res: ServerResponse) => void> | undefined
}

const METADATA: Route = { kind: 'metadata' }
const HEALTH: Route = { kind: 'health' }
const READY: Route = { kind: 'ready' }
const MCP: Route = { kind: 'mcp' }
const NOT_FOUND: Route = { kind: 'not_found' }

/**
 * Step 1 of the pipeline. The protected location is the resource path and everything below it
 * (`/mcp`, `/mcp/...`), never a sibling that merely shares the prefix (`/mcpx`).
 */
export function createRouter(options: RouterOptions): (req: IncomingMessage) => Route {
  const metadata = new Set(options.metadataPaths)
  const base = options.resourcePath === '/' ? '' : options.resourcePath.replace(/\/$/, '')
  const extra = new Map([...(options.extra ?? new Map())].map(([path, handler]) => [path, { kind: 'extra', handler } as Route]))
  return function route(req) {
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const path = q === -1 ? url : url.slice(0, q)
    if (path === base || path === options.resourcePath || (path.startsWith(base) && path[base.length] === '/')) {
      if (!metadata.has(path) && path !== '/healthz' && path !== '/readyz' && !extra.has(path)) return MCP
    }
    if (metadata.has(path)) return METADATA
    if (path === '/healthz') return HEALTH
    if (path === '/readyz') return READY
    return extra.get(path) ?? NOT_FOUND
  }
}
