import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A tiny RFC 7662 introspection endpoint for the benchmark: answers `active: true` with the claims
 * registered for a token and `active: false` otherwise (§2.2). It counts calls, so the report can
 * show that the gateway's cache kept the authorization server out of the hot path.
 *
 * `/auth` is the same judgement for nginx's `auth_request` (the `nginx-auth` row): the bearer token
 * of the subrequest's `Authorization`, 204 when registered and 401 otherwise.
 */
export interface IntrospectionServer {
  /** `http://127.0.0.1:<port>/introspect` */
  readonly url: string
  register(token: string, claims: Record<string, unknown>): void
  calls(): number
  close(): Promise<void>
}

export async function startIntrospectionServer(): Promise<IntrospectionServer> {
  const tokens = new Map<string, Record<string, unknown>>()
  let count = 0
  const server = createServer((req, res) => {
    if (req.url === '/auth') {
      count++
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? ''
      res.writeHead(tokens.has(token) ? 204 : 401, { 'cache-control': 'max-age=60' }).end()
      return
    }
    if (req.method !== 'POST' || !(req.url ?? '').startsWith('/introspect')) {
      res.writeHead(404).end()
      return
    }
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      count++
      const token = new URLSearchParams(Buffer.concat(chunks).toString('utf8')).get('token') ?? ''
      const claims = tokens.get(token)
      const body = JSON.stringify(claims === undefined ? { active: false } : { active: true, token_type: 'Bearer', ...claims })
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/introspect`,
    register: (token, claims) => void tokens.set(token, claims),
    calls: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
