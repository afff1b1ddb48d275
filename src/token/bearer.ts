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
 * headers, is a malformed request: 400 `invalid_request`. A token anywhere else is refused
 * before this is called (`checkTokenOnlyInHeader`).
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

// RFC 6750 §2.2: the form-encoded body parameter is sent with exactly this media type.
const FORM_BODY = /^\s*application\/x-www-form-urlencoded\s*(?:;|$)/i

/**
 * RFC 6750 §2.2 (form body) and §2.3 (URI query) are not supported: MCP authorization §Access
 * Token Usage forbids a token in the query string, and a form body is never an MCP message (those
 * are JSON). Such a request is 400 `invalid_request`, never forwarded: a backend that reads
 * `access_token` from the query would otherwise receive the token the gateway removes from the
 * header (RFC 6750 §2 also forbids more than one method in one request). The query is parsed only
 * when there is one.
 *
 * @throws InvalidRequest `token_in_query` or `form_body`.
 */
export function checkTokenOnlyInHeader(url: string, contentType: string | undefined): void {
  const query = url.indexOf('?')
  if (query !== -1 && new URLSearchParams(url.slice(query + 1)).has('access_token')) {
    throw new InvalidRequest('token_in_query', 'Send the access token in the Authorization header, never in the URL')
  }
  if (contentType !== undefined && FORM_BODY.test(contentType)) {
    throw new InvalidRequest('form_body', 'Form-encoded bodies are not accepted; send JSON and the token in the Authorization header')
  }
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
