import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A token endpoint for the exchange row: answers every POST with a fresh access token valid for an
 * hour (RFC 6749 §5.1). It counts calls, so the report shows that the gateway's exchange cache kept
 * it out of the hot path.
 */
export interface TokenEndpointServer {
  /** `http://127.0.0.1:<port>/token` */
  readonly url: string
  calls(): number
  close(): Promise<void>
}

export async function startTokenEndpointServer(): Promise<TokenEndpointServer> {
  let count = 0
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      count++
      const body = JSON.stringify({ access_token: `bench-exchanged-${count}`, token_type: 'Bearer', expires_in: 3600 })
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/token`,
    calls: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
