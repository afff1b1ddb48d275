import type { IncomingHttpHeaders } from 'node:http'

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) never cross the proxy, and neither do credentials: MCP
 * authorization §Token Passthrough forbids forwarding the client's token, so `Authorization` is
 * dropped along with anything the client's `Connection` header names.
 */
const NEVER_UPSTREAM = new Set([
  'authorization',
  'proxy-authorization',
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  'expect',
  'http2-settings',
])

const NEVER_DOWNSTREAM = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authenticate',
])

export interface ForwardedFor {
  remoteAddress: string | undefined
  proto: 'http' | 'https'
  host: string | undefined
}

export function upstreamRequestHeaders(incoming: IncomingHttpHeaders, via: ForwardedFor): Record<string, string | string[]> {
  const dropped = connectionTokens(incoming.connection)
  const out: Record<string, string | string[]> = {}
  for (const name in incoming) {
    const value = incoming[name]
    if (value === undefined || NEVER_UPSTREAM.has(name) || dropped?.has(name)) continue
    out[name] = value
  }
  const prior = incoming['x-forwarded-for']
  if (via.remoteAddress !== undefined) {
    out['x-forwarded-for'] = prior === undefined ? via.remoteAddress : `${String(prior)}, ${via.remoteAddress}`
  }
  out['x-forwarded-proto'] = via.proto
  if (via.host !== undefined) out['x-forwarded-host'] = via.host
  return out
}

export function downstreamResponseHeaders(
  upstream: Record<string, string | string[] | undefined>,
): Record<string, string | string[]> {
  const dropped = connectionTokens(upstream.connection)
  const out: Record<string, string | string[]> = {}
  for (const name in upstream) {
    const value = upstream[name]
    if (value === undefined || NEVER_DOWNSTREAM.has(name) || dropped?.has(name)) continue
    out[name] = value
  }
  return out
}

function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined
  const text = Array.isArray(value) ? value.join(',') : value
  return new Set(text.split(',').map((t) => t.trim().toLowerCase()))
}
