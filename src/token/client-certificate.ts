import { hash } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { TLSSocket } from 'node:tls'

export interface ClientCertificateSource {
  /** Header a TLS-terminating proxy puts the client certificate in, if trusted at all. */
  forwardedHeader: string | undefined
  /** Whether a peer's `forwardedHeader` is believed (`MCP_TRUSTED_PROXIES`). */
  isTrustedPeer: (address: string) => boolean
}

/**
 * RFC 8705 §3.1: the base64url SHA-256 of the DER client certificate the request came with, as
 * `cnf.x5t#S256` holds it; `undefined` when there is none. A certificate from this process's own
 * TLS handshake counts only when it chained to the configured CA; a forwarded one only from a
 * trusted proxy (anyone else could write the header).
 */
export function clientCertificateThumbprint(req: IncomingMessage, source: ClientCertificateSource): string | undefined {
  const socket = req.socket as Partial<TLSSocket>
  if (socket.encrypted === true && socket.authorized === true) {
    const raw = socket.getPeerCertificate?.()?.raw
    if (raw !== undefined) return hash('sha256', raw, 'base64url')
  }
  if (source.forwardedHeader === undefined) return undefined
  if (!source.isTrustedPeer(req.socket.remoteAddress ?? '')) return undefined
  const value = req.headers[source.forwardedHeader.toLowerCase()]
  if (typeof value !== 'string') return undefined
  const der = forwardedCertificateDer(value)
  return der === undefined ? undefined : hash('sha256', der, 'base64url')
}

/**
 * The DER bytes of a forwarded certificate: URL-encoded PEM (nginx `$ssl_client_escaped_cert`),
 * or Envoy's `X-Forwarded-Client-Cert` whose `Cert="..."` element holds the same.
 */
function forwardedCertificateDer(value: string): Buffer | undefined {
  const element = /(?:^|[;,])\s*Cert="?([^";,]+)"?/i.exec(value)
  let pem: string
  try {
    pem = decodeURIComponent(element?.[1] ?? value)
  } catch {
    return undefined
  }
  const body = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(pem)?.[1]
  if (body === undefined) return undefined
  const der = Buffer.from(body.replace(/\s+/g, ''), 'base64')
  return der.length === 0 ? undefined : der
}
