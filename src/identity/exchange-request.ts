import type { ExchangeSettings } from './settings.js'

/** RFC 8693 §3 token type identifier of an OAuth access token. */
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'
const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange'
const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer'

/** What the gateway asks the token endpoint for. */
export type TokenRequest =
  | { readonly kind: 'exchange'; readonly subjectToken: string; readonly scope: readonly string[]; readonly actorToken?: string | undefined }
  | { readonly kind: 'client_credentials'; readonly scope: readonly string[] }

/**
 * The token request body, client authentication aside:
 * - rfc8693 (RFC 8693 §2.1): `subject_token` with its type, `requested_token_type`, `audience`,
 *   `resource`, `scope`, and the optional `actor_token` (§2.1 "actor_token ... represents the
 *   identity of the acting party");
 * - entra-obo (Microsoft identity platform On-Behalf-Of): the RFC 7523 `jwt-bearer` grant with
 *   the user's token as `assertion` and `requested_token_use=on_behalf_of`;
 * - the gateway's own client-credentials token (RFC 6749 §4.4), for the actor token and the
 *   app-only fallback, with `resource` (RFC 8707) when the audience is a URI.
 */
export function tokenRequestForm(settings: ExchangeSettings, request: TokenRequest): URLSearchParams {
  const form = new URLSearchParams()
  const scope = request.scope.join(' ')
  if (request.kind === 'client_credentials') {
    form.set('grant_type', 'client_credentials')
    const resource = settings.resource ?? (settings.flavour === 'rfc8693' ? uriOrUndefined(settings.audience) : undefined)
    if (resource !== undefined) form.set('resource', resource)
  } else if (settings.flavour === 'entra-obo') {
    form.set('grant_type', JWT_BEARER_GRANT)
    form.set('assertion', request.subjectToken)
    form.set('requested_token_use', 'on_behalf_of')
  } else {
    form.set('grant_type', TOKEN_EXCHANGE_GRANT)
    form.set('subject_token', request.subjectToken)
    form.set('subject_token_type', ACCESS_TOKEN_TYPE)
    form.set('requested_token_type', ACCESS_TOKEN_TYPE)
    if (settings.audience !== undefined) form.set('audience', settings.audience)
    if (settings.resource !== undefined) form.set('resource', settings.resource)
    if (request.actorToken !== undefined) {
      form.set('actor_token', request.actorToken)
      form.set('actor_token_type', ACCESS_TOKEN_TYPE)
    }
  }
  if (scope !== '') form.set('scope', scope)
  return form
}

function uriOrUndefined(value: string | undefined): string | undefined {
  return value !== undefined && URL.canParse(value) ? value : undefined
}

/** A token the endpoint issued: the value, and its lifetime in seconds when the AS said. */
export interface IssuedToken {
  readonly accessToken: string
  readonly expiresIn: number | undefined
}

/** Why no token came back: `refused` (the AS said no, RFC 6749 §5.2) or `unavailable` (no usable answer). */
export class TokenEndpointFailure extends Error {
  constructor(
    readonly kind: 'refused' | 'unavailable',
    /** The OAuth error code (`invalid_grant`, `consent_required`, ...) or a fixed word; never AS text. */
    readonly code: string,
  ) {
    super(`token endpoint ${kind}: ${code}`)
    this.name = 'TokenEndpointFailure'
  }
}

const ERROR_CODE = /^[a-z_]{1,64}$/
/** The gateway's own credentials are wrong: the operator must act, a caller cannot (RFC 6749 §5.2). */
const GATEWAY_FAULTS = new Set(['invalid_client', 'unauthorized_client', 'unsupported_grant_type'])

/** RFC 6749 §5.1/§5.2: a 200 with `access_token`, or an error object; anything else is unusable. */
export function parseTokenAnswer(status: number, text: string): IssuedToken {
  let body: Record<string, unknown> | undefined
  try {
    const parsed = JSON.parse(text) as unknown
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) body = parsed as Record<string, unknown>
  } catch {
    body = undefined
  }
  if (status === 200) {
    const token = body?.['access_token']
    if (typeof token !== 'string' || token === '') throw new TokenEndpointFailure('unavailable', 'no_access_token')
    const expiresIn = body?.['expires_in']
    return { accessToken: token, expiresIn: typeof expiresIn === 'number' && expiresIn > 0 ? expiresIn : undefined }
  }
  const error = body?.['error']
  const code = typeof error === 'string' && ERROR_CODE.test(error) ? error : undefined
  if (status >= 400 && status < 500 && code !== undefined) {
    throw new TokenEndpointFailure(GATEWAY_FAULTS.has(code) ? 'unavailable' : 'refused', code)
  }
  throw new TokenEndpointFailure('unavailable', `http_${status}`)
}
