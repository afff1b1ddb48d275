import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { closeServer, listenOnLoopback } from './listen.js'

/**
 * A hand-written introspection or JWKS endpoint for the failures a real authorization server
 * cannot be made to show on demand. In `pass` mode it forwards each request (its method and body)
 * unchanged to a real endpoint (oidc-provider's), so every successful answer a test sees still
 * comes from the real peer. Every path answers the same.
 *
 * - `pass`: forward to `upstream`, answer with its status and body;
 * - `slow`: wait `slowMs`, then forward (longer than the gateway's timeout);
 * - `status-500`: 500 with a JSON error body;
 * - `bad-json`: 200 whose body is not JSON;
 * - `missing-active`: 200 with a JSON object lacking `active`;
 * - `oversized`: 200 with a valid but 100 KB JSON answer;
 * - `down`: nothing listens on the port (connection refused); leaving `down` listens again on the
 *   same port, so the endpoint URL stays valid.
 */
export type FailureMode = 'pass' | 'slow' | 'status-500' | 'bad-json' | 'missing-active' | 'oversized' | 'down'

export interface FailingAuthorizationServer {
  /** `http://127.0.0.1:<port>/introspect`. */
  readonly introspectionEndpoint: string
  /** `http://127.0.0.1:<port>/jwks`: the same endpoint, named for a JWKS `upstream`. */
  readonly jwksUri: string
  readonly mode: FailureMode
  setMode(mode: FailureMode): Promise<void>
  /** Requests received on the endpoint so far (in any mode but `down`). */
  requestCount(): number
  close(): Promise<void>
}

export interface FailingAuthorizationServerOptions {
  /** The real endpoint (introspection or JWKS) `pass` and `slow` forward to. */
  upstream: string
  /** Delay of `slow`, in milliseconds. Default 2000. */
  slowMs?: number
}

export async function startFailingAuthorizationServer(
  options: FailingAuthorizationServerOptions,
): Promise<FailingAuthorizationServer> {
  let mode: FailureMode = 'pass'
  let count = 0
  const timers = new Set<NodeJS.Timeout>()

  const server = createServer((req, res) => {
    count++
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' })
      res.end(`failing AS could not forward: ${String(error)}`)
    })
  })

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readAll(req)
    switch (mode) {
      case 'status-500':
        return send(res, 500, 'application/json', '{"error":"server_error"}')
      case 'bad-json':
        return send(res, 200, 'application/json', '<html>not json</html>')
      case 'missing-active':
        return send(res, 200, 'application/json', '{"scope":"mcp:read","sub":"alice"}')
      case 'oversized':
        return send(res, 200, 'application/json', JSON.stringify({ active: true, padding: 'x'.repeat(100_000) }))
      case 'slow':
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            timers.delete(timer)
            resolve()
          }, options.slowMs ?? 2000)
          timers.add(timer)
        })
        if (res.destroyed) return
        return forward(req, res, body)
      default:
        return forward(req, res, body)
    }
  }

  async function forward(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const headers: Record<string, string> = {}
    for (const name of ['authorization', 'content-type', 'accept']) {
      const value = req.headers[name]
      if (typeof value === 'string') headers[name] = value
    }
    const method = req.method ?? 'GET'
    const upstream = await fetch(options.upstream, { method, headers, ...(method === 'GET' || method === 'HEAD' ? {} : { body }) })
    send(res, upstream.status, upstream.headers.get('content-type') ?? 'application/json', await upstream.text())
  }

  const port = await listenOnLoopback(server)
  const origin = `http://127.0.0.1:${port}`

  return {
    introspectionEndpoint: `${origin}/introspect`,
    jwksUri: `${origin}/jwks`,
    get mode() {
      return mode
    },
    async setMode(next) {
      if (next === 'down' && mode !== 'down') await closeServer(server)
      if (next !== 'down' && mode === 'down') {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject)
          server.listen(port, '127.0.0.1', () => {
            server.off('error', reject)
            resolve()
          })
        })
      }
      mode = next
    },
    requestCount: () => count,
    async close() {
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
      await closeServer(server)
    },
  }
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}
