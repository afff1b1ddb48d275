import type { IncomingHttpHeaders } from 'node:http'

/** Headers the gateway sets upstream in place of any the client sent (docs/upstream-identity.md). */
export interface IdentityHeaders {
  /** Names removed from the client's request first, always: a client must not be able to forge them. */
  readonly strip: ReadonlySet<string>
  /** Names (lower case) and values the gateway adds. */
  readonly add: Readonly<Record<string, string>>
}

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) never cross the proxy, and neither do credentials: MCP
 * authorization §Token Passthrough forbids forwarding the client's token, so `Authorization` and
 * the token's DPoP proof (RFC 9449 §4.1, it holds the token's hash) are dropped along with anything
 * the client's `Connection` header names. Cookies are credentials of the gateway's origin (which
 * other applications on the host may share), not the backend's: `Cookie` stays here and
 * `Set-Cookie` from the backend is not passed on, unless the deployment forwards cookies
 * (`backend.forwardCookies`, docs/security.md).
 */
const NEVER_UPSTREAM = new Set([
  'authorization',
  'dpop',
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
const NEVER_UPSTREAM_OR_COOKIE = new Set([...NEVER_UPSTREAM, 'cookie'])

/**
 * The names `upstreamRequestHeaders` drops, built once per forwarder: the fixed ones, `Cookie`
 * unless cookies are forwarded, and `extra` (lower case), such as the header a trusted proxy
 * carries the client certificate in (docs/sender-constrained-tokens.md).
 */
export function neverUpstream(forwardCookies: boolean, extra: readonly string[] = []): ReadonlySet<string> {
  const base = forwardCookies ? NEVER_UPSTREAM : NEVER_UPSTREAM_OR_COOKIE
  return extra.length === 0 ? base : new Set([...base, ...extra.map((name) => name.toLowerCase())])
}

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
const NEVER_DOWNSTREAM_OR_COOKIE = new Set([...NEVER_DOWNSTREAM, 'set-cookie'])

export interface ForwardedFor {
  remoteAddress: string | undefined
  proto: 'http' | 'https'
  host: string | undefined
}

/**
 * The client's headers for the backend, minus hop-by-hop ones and credentials, plus the
 * `X-Forwarded-*` trio. `plainBody` leaves out `Accept-Encoding`, so that the response comes as
 * plain bytes (a body to rewrite); the field is skipped rather than deleted afterwards, which would
 * turn the object into a slow dictionary for every later reader. `never` is `neverUpstream(...)`:
 * `Cookie` goes only when cookies are forwarded. The caller's identity (docs/upstream-identity.md) replaces any same-named
 * header of the client's.
 */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  via: ForwardedFor,
  plainBody = false,
  never: ReadonlySet<string> = NEVER_UPSTREAM_OR_COOKIE,
  identity?: IdentityHeaders,
): Record<string, string | string[]> {
  const dropped = connectionTokens(incoming.connection)
  const forged = identity?.strip
  const out: Record<string, string | string[]> = {}
  for (const name in incoming) {
    const value = incoming[name]
    if (value === undefined || never.has(name) || dropped?.has(name) || (plainBody && name === 'accept-encoding')) continue
    if (forged?.has(name) === true) continue
    out[name] = value
  }
  if (identity !== undefined) Object.assign(out, identity.add)
  const prior = incoming['x-forwarded-for']
  if (via.remoteAddress !== undefined) {
    out['x-forwarded-for'] = prior === undefined ? via.remoteAddress : `${String(prior)}, ${via.remoteAddress}`
  }
  out['x-forwarded-proto'] = via.proto
  if (via.host !== undefined) out['x-forwarded-host'] = via.host
  return out
}

/** Header fields as `writeHead` takes them: name, value, name, value ... (a repeated name once, its values in an array). */
export type HeaderList = (string | string[])[]

export interface DownstreamHeaders {
  /** The backend's response headers minus hop-by-hop ones, repeated names merged into arrays. */
  readonly headers: HeaderList
  readonly contentType: string | undefined
  /** Whether `Content-Encoding` names a coding other than `identity`. */
  readonly encoded: boolean
}

// Beyond this many fields, repeated names are found through a Map rather than by scanning back.
const SCAN_LIMIT = 32

/**
 * The backend's response headers for the client, from the parsed field list (lowercase name,
 * value, name, value ...) in one pass: hop-by-hop headers and those the backend's `Connection`
 * names are dropped (RFC 9110 §7.6.1). Values stay latin1, byte for byte as on the wire
 * (RFC 9110 §5.5). A flat list rather than an object: node's `writeHead` stores it without a
 * dictionary walk (1.7 against 3.3 µs for a usual response here), and no name can be `__proto__`.
 * `Set-Cookie` passes only with `forwardCookies`.
 */
export function downstreamHeaders(fields: readonly string[], forwardCookies = false): DownstreamHeaders {
  const never = forwardCookies ? NEVER_DOWNSTREAM : NEVER_DOWNSTREAM_OR_COOKIE
  const headers: HeaderList = []
  const index = fields.length > 2 * SCAN_LIMIT ? new Map<string, number>() : undefined
  let connection: string | undefined
  let contentType: string | undefined
  let encoding: string | undefined
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i] as string
    const value = fields[i + 1] as string
    if (name === 'connection') connection = connection === undefined ? value : `${connection},${value}`
    if (never.has(name)) continue
    if (name === 'content-type') contentType ??= value
    else if (name === 'content-encoding') encoding = encoding === undefined ? value : `${encoding},${value}`
    const at = index === undefined ? indexOfName(headers, name) : (index.get(name) ?? -1)
    if (at === -1) {
      index?.set(name, headers.length)
      headers.push(name, value)
    } else {
      const prior = headers[at + 1] as string | string[]
      headers[at + 1] = Array.isArray(prior) ? [...prior, value] : [prior, value]
    }
  }
  const dropped = connectionTokens(connection)
  return {
    headers: dropped === undefined ? headers : withoutNames(headers, dropped),
    contentType,
    encoded: encoding !== undefined && isEncoded(encoding),
  }
}

/** Where `name` sits in a header list (its name's position), or -1. */
export function indexOfName(headers: HeaderList, name: string): number {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return i
  return -1
}

/** The list without the fields whose name is in `names`. */
export function withoutNames(headers: HeaderList, names: ReadonlySet<string>): HeaderList {
  const out: HeaderList = []
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string
    if (!names.has(name)) out.push(name, headers[i + 1] as string | string[])
  }
  return out
}

function isEncoded(value: string): boolean {
  return value.split(',').some((c) => {
    const coding = c.trim().toLowerCase()
    return coding !== '' && coding !== 'identity'
  })
}

/** Header names a `Connection` header lists (RFC 9110 §7.6.1), beyond the fixed hop-by-hop set. */
function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined
  const text = Array.isArray(value) ? value.join(',') : value
  // The usual values name nothing the fixed sets do not already drop: skip the Set.
  if (text === 'keep-alive' || text === 'close' || text === 'Keep-Alive' || text === 'Close') return undefined
  return new Set(text.split(',').map((t) => t.trim().toLowerCase()))
}
