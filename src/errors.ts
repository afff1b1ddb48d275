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
  | 'upstream_unreachable'
  | 'upstream_timeout'
  | 'rate_limited'
  | 'rate_limit_unavailable'
  | 'auth_blocked'
  | 'not_found'
  | 'client_closed'
  | 'internal'

/** RFC 6750 §3.1 error codes. */
export type BearerErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope'

export interface GatewayErrorOptions {
  cause?: unknown
  /** Seconds, sent as `Retry-After` (RFC 9110 §10.2.3). */
  retryAfter?: number
  /** A JSON-RPC error code: the body becomes a JSON-RPC error object instead of the OAuth shape. */
  jsonRpcCode?: number
  /** The JSON-RPC id to echo in that body, when known. */
  jsonRpcId?: string | number | null
  /** More response headers (the rate limit's `RateLimit-*`), written with the error. */
  headers?: Readonly<Record<string, string>>
}

export class GatewayError extends Error {
  readonly retryAfter: number | undefined
  readonly jsonRpcCode: number | undefined
  readonly jsonRpcId: string | number | null | undefined
  readonly headers: Readonly<Record<string, string>> | undefined

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
    this.headers = options.headers
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

/** A configuration problem, with every issue found (each names its variable or file key). */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
  }
}
