import { InsufficientScope, type AuthScheme, type GatewayError } from '../errors.js'
import { parseChallenges } from './www-authenticate.js'

/**
 * Builds the one `WWW-Authenticate: Bearer ...` value for a 401 or 403 (RFC 6750 §3).
 *
 * Attribute order is part of the contract: the MCP SDK client regex-matches the first `scope=` and
 * `resource_metadata=` anywhere in the header, so both come before `error_description`. With no
 * credentials there is no `error` attribute (RFC 6750 §3.1).
 */
export function buildChallenge(
  error: Pick<GatewayError, 'bearerError' | 'description'>,
  resourceMetadata: string,
  scope: readonly string[],
  scheme: AuthScheme = 'Bearer',
  algs?: readonly string[],
): string {
  const params: string[] = []
  if (error.bearerError !== undefined) params.push(`error=${quote(error.bearerError)}`)
  const scopeValue = scope.join(' ')
  if (error.bearerError === undefined) {
    // The anchor's no-credentials form: resource_metadata first, then scope (RFC 9728 §5.1).
    params.push(`resource_metadata=${quote(resourceMetadata)}`)
    if (scopeValue !== '') params.push(`scope=${quote(scopeValue)}`)
  } else {
    if (scopeValue !== '') params.push(`scope=${quote(scopeValue)}`)
    params.push(`resource_metadata=${quote(resourceMetadata)}`)
    params.push(`error_description=${quote(error.description)}`)
  }
  // RFC 9449 §7.1: the DPoP challenge names the proof algorithms the resource accepts.
  if (algs !== undefined) params.push(`algs=${quote(algs.join(' '))}`)
  return `${scheme} ${params.join(', ')}`
}

export interface DpopChallengeOptions {
  /** `algs` of the DPoP challenge. */
  algorithms: readonly string[]
  /** Only DPoP-bound tokens are accepted: the Bearer scheme is not offered. */
  required: boolean
}

const NO_ERROR = { bearerError: undefined, description: '' } as const

/**
 * The `WWW-Authenticate` field values for a refusal, one per scheme (RFC 9110 §11.6.1 lets a
 * challenge list span fields). Without DPoP: the one Bearer challenge. With DPoP, a 401 offers
 * Bearer first, then DPoP (RFC 9449 §7.1); the error sits on the scheme it concerns: the error's
 * own (a bad proof is DPoP's), else the one the client used. Bearer comes first because the MCP
 * SDK client reads only a header that starts with `Bearer`. A 400 or 403 answers in one scheme,
 * the one the client used; with DPoP required, only DPoP is offered.
 */
export function buildChallenges(
  error: GatewayError,
  resourceMetadata: string,
  scope: readonly string[],
  used: AuthScheme | undefined,
  dpop: DpopChallengeOptions | undefined,
): string[] {
  if (dpop === undefined) return [buildChallenge(error, resourceMetadata, scope)]
  const errorScheme = dpop.required ? 'DPoP' : (error.scheme ?? used ?? 'Bearer')
  const dpopChallenge = (e: Pick<GatewayError, 'bearerError' | 'description'>) =>
    buildChallenge(e, resourceMetadata, scope, 'DPoP', dpop.algorithms)
  if (error.status !== 401 || dpop.required) {
    return [errorScheme === 'DPoP' ? dpopChallenge(error) : buildChallenge(error, resourceMetadata, scope)]
  }
  return [
    buildChallenge(errorScheme === 'Bearer' ? error : NO_ERROR, resourceMetadata, scope),
    dpopChallenge(errorScheme === 'DPoP' ? error : NO_ERROR),
  ]
}

/** RFC 9110 §5.6.4 quoted-string: backslash-escape `"` and `\`; drop control characters. */
export function quote(value: string): string {
  return `"${value.replace(/[\u0000-\u001f\u007f]/g, '').replace(/["\\]/g, '\\$&')}"`
}

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/
// RFC 6750 §3: error_description is %x20-21 / %x23-5B / %x5D-7E; and never `=`, which the MCP SDK client would read as an attribute.
const SAFE_DESCRIPTION = /^[\x20\x21\x23-\x3c\x3e-\x5b\x5d-\x7e]{1,200}$/
// A run this long of token68 characters may be a credential or a claim: not relayed.
const TOKEN68_RUN = /[A-Za-z0-9._~+/-]{24,}/
const RELAYED_DESCRIPTION = 'The MCP server requires more scope for this operation'

/**
 * A backend's own step-up challenge (`403`, `Bearer error="insufficient_scope"`, as an MCP SDK
 * server's scope check sends it), made the gateway's: one Bearer challenge whose `resource_metadata`
 * is the gateway's metadata URL (the backend's would send the client to a resource it cannot reach),
 * with the backend's `scope` (valid scope tokens only, never `offline_access`) and its
 * `error_description` only when it is plain safe text. `undefined` when `values` hold no such
 * challenge.
 */
export function relayScopeChallenge(values: string | readonly string[], resourceMetadata: string): string | undefined {
  for (const value of typeof values === 'string' ? [values] : values) {
    for (const challenge of parseChallenges(value)) {
      if (challenge.scheme.toLowerCase() !== 'bearer' || challenge.params.error !== 'insufficient_scope') continue
      const scope = [...new Set((challenge.params.scope ?? '').split(' '))].filter(
        (token) => SCOPE_TOKEN.test(token) && token !== 'offline_access',
      )
      const description = challenge.params.error_description
      const safe = description !== undefined && SAFE_DESCRIPTION.test(description) && !TOKEN68_RUN.test(description)
      const error = new InsufficientScope(scope, safe ? description : RELAYED_DESCRIPTION, 'upstream_insufficient_scope')
      return buildChallenge(error, resourceMetadata, scope)
    }
  }
  return undefined
}
