import type { Principal } from '../token/principal.js'

/**
 * The MCP SDK's `AuthInfo` (`@modelcontextprotocol/sdk/server/auth/types`), declared here so the
 * library needs no SDK at run time: set as `req.auth`, the SDK's `StreamableHTTPServerTransport`
 * hands it to tool handlers as `extra.authInfo`. `token` is there for the server's own use (a
 * token exchange); the library never logs it.
 */
export interface McpAuthInfo {
  token: string
  /** `client_id` (or `azp`); empty when the token names none. */
  clientId: string
  scopes: string[]
  /** `exp`, in seconds since the epoch. */
  expiresAt?: number
  /** The canonical URI the token's audience was checked against (RFC 8707). */
  resource?: URL
  extra?: McpAuthExtra
}

export interface McpAuthExtra {
  [key: string]: unknown
  sub: string | undefined
  /** The issuer the token was verified against. */
  iss: string
  /** The verified claims (or introspection answer). */
  claims: Readonly<Record<string, unknown>>
}

export function authInfoOf(principal: Principal, token: string, resource: string): McpAuthInfo {
  return {
    token,
    clientId: principal.clientId ?? '',
    scopes: [...principal.scopes],
    expiresAt: principal.expiresAt,
    resource: new URL(resource),
    extra: { sub: principal.subject, iss: principal.issuer, claims: principal.claims },
  }
}

/** The principal back from an `AuthInfo` this library made (an MCP handler sees only the latter). */
export function principalOf(auth: McpAuthInfo): Principal {
  const extra = auth.extra
  return {
    issuer: typeof extra?.iss === 'string' ? extra.iss : '',
    subject: typeof extra?.sub === 'string' ? extra.sub : undefined,
    clientId: auth.clientId === '' ? undefined : auth.clientId,
    scopes: new Set(auth.scopes),
    expiresAt: auth.expiresAt ?? 0,
    claims: extra?.claims ?? {},
  }
}
