import { GatewayError, RateLimited } from '../errors.js'

/** 429 carrying the limit's `RateLimit-*` headers and the name of the policy that refused. */
export class RateLimitExceeded extends RateLimited {
  constructor(
    retryAfter: number,
    headers: Readonly<Record<string, string>>,
    readonly policy: string,
  ) {
    super(retryAfter, headers, `Too many requests: the ${printable(policy)} limit`)
  }
}

/** A configured policy name as a safe description part (never `=`, quotes or control characters). */
function printable(policy: string): string {
  return policy.replace(/[^A-Za-z0-9_.:/-]/g, '_').slice(0, 100)
}

/**
 * 503: the rate-limit store cannot give a verdict and `onError` is `deny` (or Redis answered with
 * an error, which always denies). Not a 502/504: those say the MCP server failed, and not a 429:
 * the client exceeded nothing. `Retry-After` as for an unreachable authorization server.
 */
export class RateLimitUnavailable extends GatewayError {
  constructor(cause?: unknown, retryAfter = 5) {
    super(503, 'rate_limit_unavailable', 'Rate limiting is temporarily unavailable', undefined, { cause, retryAfter })
  }
}
