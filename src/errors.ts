/**
 * Request errors. Each class maps to one wire answer (RFC 6750 §3.1 error codes, or an HTTP
 * status with no challenge); `reason` says why, for logs, metrics and the audit trail.
 *
 * `description` is a fixed, safe text: it never holds a token, a claim or upstream error text,
 * and never contains `=` (the MCP SDK client regex-matches `name=` anywhere in the challenge).
 */

/** Why a request was refused: a bounded set, safe as a metric label. */
export type FailureReason =
  | 'no_credentials'
  | 'malformed_authorization'
  | 'token_in_query'
  | 'form_body'
  | 'malformed_token'
  | 'expired'
  | 'not_yet_valid'
  | 'signature'
  | 'unknown_key'
  | 'algorithm'
  | 'issuer'
  | 'unknown_issuer'
  | 'audience'
  | 'missing_claim'
  | 'token_type'
  | 'token_lifetime'
  | 'inactive'
  | 'invalid_dpop_proof'
  | 'dpop_replay'
  | 'dpop_key_mismatch'
  | 'use_dpop_nonce'
  | 'bound_token_as_bearer'
  | 'unbound_token_as_dpop'
  | 'dpop_required'
  | 'certificate_mismatch'
  | 'replay_cache_unavailable'
  | 'revoked'
  | 'insufficient_scope'
  | 'tool_not_allowed'
  | 'invalid_body'
  | 'body_too_large'
  | 'invalid_jsonrpc'
  | 'header_mismatch'
  | 'unsupported_protocol_version'
  | 'method_not_allowed'
  | 'invalid_path'
  | 'duplicate_host'
  | 'invalid_origin'
  | 'verifier_unavailable'
  | 'introspection_capped'
  | 'upstream_unreachable'
  | 'upstream_timeout'
  | 'upstream_reset'
  | 'upstream_insufficient_scope'
  | 'rate_limited'
  | 'identity_refused'
  | 'identity_unavailable'
  | 'rate_limit_unavailable'
  | 'auth_blocked'
  | 'not_found'
  | 'client_closed'
  | 'internal'

/** RFC 6750 §3.1 error codes, and RFC 9449 §7.1 and §8 ones for the DPoP scheme. */
export type BearerErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope' | 'invalid_dpop_proof' | 'use_dpop_nonce'

/** Authorization schemes the gateway accepts: RFC 6750 `Bearer`, RFC 9449 `DPoP`. */
export type AuthScheme = 'Bearer' | 'DPoP'

export interface GatewayErrorOptions {
  cause?: unknown
  /** Seconds, sent as `Retry-After` (RFC 9110 §10.2.3). */
  retryAfter?: number
  /** A JSON-RPC error code: the body becomes a JSON-RPC error object instead of the OAuth shape. */
  jsonRpcCode?: number
  /** The JSON-RPC id to echo in that body, when known. */
  jsonRpcId?: string | number | null
  /** The JSON-RPC error's `data` member (2026-07-28 `-32022`: `supported` and `requested`). */
  jsonRpcData?: unknown
  /** More response headers (the rate limit's `RateLimit-*`), written with the error. */
  headers?: Readonly<Record<string, string>>
  /** The scheme whose challenge carries the error (RFC 9449 §7.1); default: the scheme the client used. */
  scheme?: AuthScheme
}

export class GatewayError extends Error {
  readonly retryAfter: number | undefined
  readonly jsonRpcCode: number | undefined
  readonly jsonRpcId: string | number | null | undefined
  readonly jsonRpcData: unknown
  readonly headers: Readonly<Record<string, string>> | undefined
  readonly scheme: AuthScheme | undefined

  constructor(
    readonly status: number,
    readonly reason: FailureReason,
    readonly description: string,
    readonly bearerError: BearerErrorCode | undefined,
    options: GatewayErrorOptions = {},
  ) {
    super(description, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.retryAfter = options.retryAfter
    this.jsonRpcCode = options.jsonRpcCode
    this.jsonRpcId = options.jsonRpcId
    this.jsonRpcData = options.jsonRpcData
    this.headers = options.headers
    this.scheme = options.scheme
  }

  /**
   * Whether the answer carries a `WWW-Authenticate` challenge: every 401, and every answer with an
   * RFC 6750 §3.1 error code (400 `invalid_request`, 403 `insufficient_scope`), so the client still
   * learns `resource_metadata`. A 403 for a bad Origin has no code and no challenge.
   */
  get challenges(): boolean {
    return this.status === 401 || this.bearerError !== undefined
  }
}

/** 401 with no `error` attribute: the request carried no Bearer credentials (RFC 6750 §3.1). */
export class MissingCredentials extends GatewayError {
  constructor() {
    super(401, 'no_credentials', 'Bearer access token required', undefined)
  }
}

/**
 * 400 `invalid_request`: a malformed Authorization header, a token sent more than one way or
 * outside the header, or a request path that is not in normal form.
 */
export class InvalidRequest extends GatewayError {
  constructor(reason: FailureReason, description: string, options?: GatewayErrorOptions) {
    super(400, reason, description, 'invalid_request', options)
  }
}

/** 401 `invalid_token`: expired, revoked, malformed, or not issued for this resource. */
export class InvalidToken extends GatewayError {
  constructor(reason: FailureReason, description: string, options?: GatewayErrorOptions) {
    super(401, reason, description, 'invalid_token', options)
  }
}

/**
 * 401 `invalid_dpop_proof` on the DPoP challenge (RFC 9449 §7.1): the `DPoP` header is missing,
 * repeated, malformed, replayed, or does not match this request or the token's key.
 */
export class InvalidDpopProof extends GatewayError {
  constructor(reason: FailureReason, description: string, options?: GatewayErrorOptions) {
    super(401, reason, description, 'invalid_dpop_proof', { ...options, scheme: 'DPoP' })
  }
}

/** 401 `use_dpop_nonce` with a fresh `DPoP-Nonce` (RFC 9449 §9): retry with the server's nonce. */
export class UseDpopNonce extends GatewayError {
  constructor(nonce: string) {
    super(401, 'use_dpop_nonce', 'Resource server requires nonce in DPoP proof', 'use_dpop_nonce', {
      scheme: 'DPoP',
      headers: { 'dpop-nonce': nonce },
    })
  }
}

/** 403 `insufficient_scope`; `scope` names what this operation needs (MCP step-up). */
export class InsufficientScope extends GatewayError {
  constructor(
    readonly scope: readonly string[],
    description = 'The access token lacks the scope this operation needs',
    reason: FailureReason = 'insufficient_scope',
  ) {
    super(403, reason, description, 'insufficient_scope')
  }
}

/** A request the gateway refuses before authorization matters: bad body, bad MCP headers. */
export class BadRequest extends GatewayError {
  constructor(reason: FailureReason, description: string, status = 400, options?: GatewayErrorOptions) {
    super(status, reason, description, undefined, options)
  }
}

/** 403 without a challenge: an `Origin` this endpoint does not accept (MCP transports §Security). */
export class ForbiddenOrigin extends GatewayError {
  constructor() {
    super(403, 'invalid_origin', 'Origin not allowed', undefined)
  }
}

/** 503: the keys or the introspection endpoint cannot be reached, so no decision can be made. */
export class VerifierUnavailable extends GatewayError {
  constructor(description = 'Token verification is temporarily unavailable', cause?: unknown, retryAfter = 5) {
    super(503, 'verifier_unavailable', description, undefined, { cause, retryAfter })
  }
}

/**
 * 503: the token is unknown here and the calls to the introspection endpoint have reached their
 * cap (`MCP_INTROSPECT_MAX_RATE`); the token is neither accepted nor refused, so no challenge.
 */
export class IntrospectionCapped extends GatewayError {
  constructor(retryAfter: number) {
    super(503, 'introspection_capped', 'Token introspection is busy, retry later', undefined, { retryAfter })
  }
}

/** 502/504: the MCP backend failed or was too slow. */
export class UpstreamError extends GatewayError {
  constructor(reason: 'upstream_unreachable' | 'upstream_timeout', cause?: unknown) {
    super(
      reason === 'upstream_timeout' ? 504 : 502,
      reason,
      reason === 'upstream_timeout' ? 'The MCP server did not answer in time' : 'The MCP server could not be reached',
      undefined,
      { cause },
    )
  }
}

/** 429, counted only after authentication so a bad token is always a 401. */
export class RateLimited extends GatewayError {
  constructor(retryAfter: number, headers?: Readonly<Record<string, string>>, description = 'Too many requests') {
    super(429, 'rate_limited', description, undefined, { retryAfter, ...(headers === undefined ? {} : { headers }) })
  }
}

/** The JSON-RPC error code of a tool call whose upstream identity was refused (docs/upstream-identity.md). */
export const IDENTITY_REFUSED_CODE = -32003

/**
 * The authorization server would not issue a token for the backend (RFC 6749 §5.2 `invalid_grant`,
 * OpenID Connect `consent_required`, ...): 403, or, answering a single `tools/call`, a JSON-RPC
 * error inside a 200, which the MCP SDK client reports as the call's error. Names the downstream
 * audience and the AS's error code, never a token.
 */
export class IdentityRefused extends GatewayError {
  constructor(audience: string, code: string, jsonRpcId?: string | number) {
    super(
      jsonRpcId === undefined ? 403 : 200,
      'identity_refused',
      `The authorization server refused a token for ${audience}: ${code}`,
      undefined,
      jsonRpcId === undefined ? {} : { jsonRpcCode: IDENTITY_REFUSED_CODE, jsonRpcId },
    )
  }
}

/** 503: no token for the backend could be had (token endpoint unreachable, timed out, or refusing the gateway itself). */
export class IdentityUnavailable extends GatewayError {
  constructor(cause?: unknown, retryAfter = 5) {
    super(503, 'identity_unavailable', 'A token for the MCP server cannot be obtained right now', undefined, { cause, retryAfter })
  }
}

/** A configuration problem, with every issue found (each names its variable or file key). */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
  }
}

/**
 * An authorization server document a resource server needs before it can verify anything (the
 * discovery document, the JWKS) could not be loaded at start. Names the URL and what went wrong.
 */
export class AuthorizationServerUnavailable extends Error {
  constructor(
    readonly url: string,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot load ${url}: ${problem}`, options)
    this.name = 'AuthorizationServerUnavailable'
  }
}
