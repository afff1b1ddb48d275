import { InvalidToken } from '../errors.js'
import type { Principal } from './principal.js'
import { readScopes } from './scopes-claim.js'

/**
 * RFC 7662 §2.2 answers: how a response becomes an answer, how long an answer may be reused, and
 * which answers let a request through (a key-bound answer, `cnf`, is then held to its binding by
 * sender-constraint.ts, as a JWT is). Pure: the clock is a parameter.
 */
export interface IntrospectionAnswer {
  readonly active: boolean
  readonly [member: string]: unknown
}

/** Why an endpoint's response could not be used. `detail` never holds the body (it may echo the token). */
export class IntrospectionFailure extends Error {
  constructor(readonly detail: string) {
    super(detail)
    this.name = 'IntrospectionFailure'
  }
}

/** Larger responses are refused unread (nginx-mcp-resource uses the same bound). */
export const MAX_ANSWER_BYTES = 64 * 1024

/** RFC 7662 §2.2: only a 200 whose JSON object has a boolean `active` is an answer. */
export function parseIntrospectionAnswer(status: number, body: string): IntrospectionAnswer {
  if (status !== 200) throw new IntrospectionFailure(`HTTP ${status}`)
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    throw new IntrospectionFailure('the response is not JSON')
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new IntrospectionFailure('the response is not a JSON object')
  }
  if (typeof (parsed as { active?: unknown }).active !== 'boolean') {
    throw new IntrospectionFailure('the response has no boolean "active" (RFC 7662 §2.2)')
  }
  return parsed as IntrospectionAnswer
}

export interface AnswerLifetimeOptions {
  /** Milliseconds; 0: active answers are not reused. */
  maxTtl: number
  /** Milliseconds. */
  inactiveTtl: number
}

/**
 * How long an answer may be reused, in milliseconds (0: not at all). An active answer lives no
 * longer than the configured maximum nor past the token's `exp`; an inactive one only briefly, so
 * a repeated bad token costs one call per interval, and a token that becomes active later (clock
 * differences between replicas of the AS) is not refused for long.
 */
export function answerLifetime(answer: IntrospectionAnswer, options: AnswerLifetimeOptions, nowMs: number): number {
  if (!answer.active) return options.inactiveTtl
  const exp = answer['exp']
  if (typeof exp === 'number' && Number.isFinite(exp)) return Math.max(0, Math.min(options.maxTtl, exp * 1000 - nowMs))
  return options.maxTtl
}

/**
 * What the store keeps for one token: the answer and the time, in milliseconds since the epoch,
 * when it stops being reusable. The end travels with the answer so that every process that reads
 * it (several gateways share one Redis) stops using it at the same moment, however late it read
 * it: a process may then keep the checked principal in memory until exactly then.
 */
export interface StoredAnswer {
  readonly answer: IntrospectionAnswer
  readonly until: number
}

/** The stored text of an answer. An inactive answer is stored bare: nothing else in it matters, and it may hold claims. */
export function encodeStoredAnswer(answer: IntrospectionAnswer, until: number): string {
  return JSON.stringify({ until, answer: answer.active ? answer : { active: false } })
}

/** The stored answer, or `undefined` for text that is not one (treated as a miss, never as a decision). */
export function decodeStoredAnswer(text: string): StoredAnswer | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined
  const { until, answer } = parsed as { until?: unknown; answer?: unknown }
  if (typeof until !== 'number' || !Number.isFinite(until)) return undefined
  if (typeof answer !== 'object' || answer === null || Array.isArray(answer)) return undefined
  if (typeof (answer as { active?: unknown }).active !== 'boolean') return undefined
  return { answer: answer as IntrospectionAnswer, until }
}

export interface AnswerRules {
  /** The configured issuer, reported as the principal's issuer. */
  issuer: string
  /** `iss` values accepted when the answer has one. */
  acceptedIssuers: ReadonlySet<string>
  /** The audience binding (RFC 8707 §2), compiled by `createAudienceCheck`. */
  audienceOk: (aud: unknown) => boolean
  scopeClaim: string
  clockSkewSeconds: number
}

/** `token_type` values (RFC 7662 §2.2, RFC 8693 §3) and Keycloak `typ` values of refresh tokens. */
const REFRESH_TYPES = new Set(['refresh_token', 'refresh', 'urn:ietf:params:oauth:token-type:refresh_token', 'offline'])

/**
 * An active answer becomes a principal only when it holds up on its own: the AS's `active` is not
 * taken as the last word on time (`exp`, `nbf` and `iat` are checked here too), a refresh token is
 * refused, a present `iss` must be this issuer's, and `aud` must name this
 * resource as a JWT's must.
 *
 * @param fallbackExpiresAt the principal's `expiresAt` when the answer has no `exp` (seconds)
 */
export function checkIntrospectionAnswer(
  answer: IntrospectionAnswer,
  rules: AnswerRules,
  nowSeconds: number,
  fallbackExpiresAt: number,
): Principal {
  if (answer.active !== true) throw new InvalidToken('inactive', 'The token is not active')

  const tokenType = answer['token_type']
  const typ = answer['typ']
  if (
    (typeof tokenType === 'string' && REFRESH_TYPES.has(tokenType.toLowerCase())) ||
    (typeof typ === 'string' && REFRESH_TYPES.has(typ.toLowerCase()))
  ) {
    throw new InvalidToken('token_type', 'The token is not an access token')
  }
  const iss = answer['iss']
  if (iss !== undefined && (typeof iss !== 'string' || !rules.acceptedIssuers.has(iss))) {
    throw new InvalidToken('issuer', 'The token was issued by an untrusted issuer')
  }

  const exp = numericClaim(answer, 'exp')
  const nbf = numericClaim(answer, 'nbf')
  const iat = numericClaim(answer, 'iat')
  const skew = rules.clockSkewSeconds
  if (exp !== undefined && exp <= nowSeconds - skew) throw new InvalidToken('expired', 'The token has expired')
  if ((nbf !== undefined && nbf > nowSeconds + skew) || (iat !== undefined && iat > nowSeconds + skew)) {
    throw new InvalidToken('not_yet_valid', 'The token is not valid yet')
  }

  if (!rules.audienceOk(answer['aud'])) throw new InvalidToken('audience', 'The token was not issued for this resource')

  const sub = answer['sub']
  const clientId = answer['client_id']
  return {
    issuer: rules.issuer,
    subject: typeof sub === 'string' ? sub : undefined,
    clientId: typeof clientId === 'string' ? clientId : undefined,
    scopes: readScopes(answer, rules.scopeClaim),
    expiresAt: exp ?? fallbackExpiresAt,
    claims: answer,
  }
}

function numericClaim(answer: IntrospectionAnswer, name: string): number | undefined {
  const value = answer[name]
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new InvalidToken('malformed_token', 'The token is malformed')
  }
  return value
}
