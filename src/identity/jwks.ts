import type { IncomingMessage, ServerResponse } from 'node:http'
import type { UpstreamIdentitySettings } from './settings.js'

/** The JWKS (RFC 7517 §5) a backend verifies assertions with, or `undefined` when no mode signs. */
export function assertionJwks(settings: UpstreamIdentitySettings): string | undefined {
  return settings.mode === 'assertion' ? JSON.stringify({ keys: [settings.key.publicJwk] }) : undefined
}

/**
 * Serves the JWKS over GET and HEAD, readable from anywhere (public keys) and cacheable for five
 * minutes, so that a backend refetching on an unknown `kid` finds a new key soon after a restart.
 */
export function jwksHandler(jwks: string): (req: IncomingMessage, res: ServerResponse) => void {
  const length = Buffer.byteLength(jwks)
  return function serveJwks(req, res) {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' })
      res.end()
      return
    }
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': length,
      'cache-control': 'public, max-age=300',
      'access-control-allow-origin': '*',
    })
    res.end(req.method === 'HEAD' ? undefined : jwks)
  }
}
