import { InvalidRequest, MissingCredentials, type AuthScheme } from '../errors.js'

// RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token, b64token = 1*( ALPHA / DIGIT / "-" / "." /
// "_" / "~" / "+" / "/" ) *"=". The scheme is case-insensitive (RFC 9110 §11.1).
const BEARER = /^bearer +([A-Za-z0-9\-._~+/]+=*) *$/i
// RFC 9449 §7.1: the same token68 grammar after the `DPoP` scheme.
const DPOP = /^dpop +([A-Za-z0-9\-._~+/]+=*) *$/i
const DPOP_SCHEME = /^dpop(?: |$)/i
const SCHEME = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+)(?: |$)/

/**
 * Authorization header value(s) -> the bearer token.
 *
 * No header, or another scheme (Basic, DPoP, ...), is "no Bearer credentials": a 401 without an
 * error code (RFC 6750 §3.1). A Bearer header that breaks the grammar, or several Authorization
 * headers, is a malformed request: 400 `invalid_request`. A token in the query string is never
 * read (MCP authorization §Access Token Usage forbids it; RFC 6750 §2.3 is not supported).
 */
export function extractBearerToken(header: string | string[] | undefined): string {
  if (header === undefined || header === '') throw new MissingCredentials()
  if (Array.isArray(header)) {
    throw new InvalidRequest('malformed_authorization', 'Send exactly one Authorization header')
  }
  const match = BEARER.exec(header)
  if (match !== null) return match[1] as string
  const scheme = SCHEME.exec(header)?.[1]
  if (scheme !== undefined && scheme.toLowerCase() !== 'bearer') throw new MissingCredentials()
  throw new InvalidRequest('malformed_authorization', 'Malformed Bearer authorization header')
}

/** The token and the scheme it came with. */
export interface Credentials {
  readonly scheme: AuthScheme
  readonly token: string
}

/**
 * Authorization header value(s) -> the token and its scheme: `Bearer` as `extractBearerToken`
 * reads it, or, when DPoP is accepted, `DPoP` (RFC 9449 §7.1), whose proof the caller checks.
 * With DPoP off, a DPoP header is "no credentials", as any other scheme.
 */
export function extractCredentials(header: string | string[] | undefined, acceptDpop: boolean): Credentials {
  if (acceptDpop && typeof header === 'string' && DPOP_SCHEME.test(header)) {
    const match = DPOP.exec(header)
    if (match === null) throw new InvalidRequest('malformed_authorization', 'Malformed DPoP authorization header', { scheme: 'DPoP' })
    return { scheme: 'DPoP', token: match[1] as string }
  }
  return { scheme: 'Bearer', token: extractBearerToken(header) }
}
