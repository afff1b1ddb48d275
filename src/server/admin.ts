import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { listen } from './listen.js'
import { JWKS_PATH } from '../identity/upstream-identity.js'
import { jwksHandler } from '../identity/jwks.js'
import { metricsHandler, type MetricsSource } from '../observability/metrics.js'
import { writeJson } from './respond.js'

export interface AdminOptions {
  host: string
  port: number
  /** Served at `/metrics`; without it `/metrics` is 404. */
  metrics?: MetricsSource | undefined
  /** The upstream-identity JWKS, served at `/.well-known/jwks.json` (docs/upstream-identity.md). */
  jwks?: string | undefined
  /** `/readyz`: whether traffic may be sent (keys loaded, backend reachable, not draining). */
  ready(): Promise<boolean>
  /** More routes (the revocation routes under `/admin/`): answers and returns true when the path is theirs. */
  routes?: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined
}

export interface AdminServer {
  url: string
  server: Server
  close(): Promise<void>
}

/**
 * The operator's listener, apart from the MCP traffic so that it can stay on a private address
 * (`127.0.0.1` by default) and so that `/metrics` needs no token: `/metrics`, `/healthz` (the
 * process answers) and `/readyz` (it should get traffic; 503 while draining); the assertion JWKS
 * when the gateway signs identity assertions; with an admin token, the revocation routes
 * (src/revocation/admin-routes.ts).
 */
export async function startAdminServer(options: AdminOptions): Promise<AdminServer> {
  const serveMetrics = options.metrics === undefined ? undefined : metricsHandler(options.metrics)
  const serveJwks = options.jwks === undefined ? undefined : jwksHandler(options.jwks)
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (path === '/metrics' && serveMetrics !== undefined) return serveMetrics(req, res)
    if (path === JWKS_PATH && serveJwks !== undefined) return serveJwks(req, res)
    if (path === '/healthz') return writeJson(res, 200, '{"status":"ok"}', { 'cache-control': 'no-store' })
    if (path === '/readyz') {
      return void options.ready().then(
        (ready) => writeJson(res, ready ? 200 : 503, JSON.stringify({ ready }), { 'cache-control': 'no-store' }),
        () => writeJson(res, 503, '{"ready":false}', { 'cache-control': 'no-store' }),
      )
    }
    if (options.routes?.(req, res) === true) return
    writeJson(res, 404, '{"error":"not_found"}')
  })
  const { host, port } = await listen(server, options.port, options.host)
  return {
    url: `http://${host}:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
