import { InvalidToken } from '../errors.js'
import type { ResolvedAuthorizationServer } from './authorization-server-schema.js'
import type { Principal, TokenVerifier } from './principal.js'
import { readScopes } from './scopes-claim.js'

/** What one issuer asks of its tokens beyond validity. */
export type IssuerPolicy = Pick<
  ResolvedAuthorizationServer,
  'maxTokenLifetime' | 'requiredClaims' | 'additionalScopeClaims' | 'scopePrefix'
>

/** Runs `applyIssuerPolicy` on every principal the verifier returns. */
export function withIssuerPolicy(verifier: TokenVerifier, policy: IssuerPolicy): TokenVerifier {
  const plain =
    policy.maxTokenLifetime === undefined &&
    policy.requiredClaims.length === 0 &&
    policy.additionalScopeClaims.length === 0 &&
    policy.scopePrefix === undefined
  if (plain) return verifier
  // `verifyCached` is not carried over: an answer served at once would skip the policy.
  const { verifyCached: _skipped, ...rest } = verifier
  return { ...rest, verify: async (token, context) => applyIssuerPolicy(await verifier.verify(token, context), policy) }
}

/**
 * An issuer's own rules, after the token is known valid:
 * - `requiredClaims`: each must be present (401 `missing_claim`);
 * - `maxTokenLifetime`: `exp - iat` may not exceed it; a token without `iat` cannot show its
 *   lifetime and is refused (401 `token_lifetime`, `missing_claim`);
 * - scopes: the union of `scopeClaim` and `additionalScopeClaims` (Entra `roles`, Auth0
 *   `permissions`), each also counted with `scopePrefix` (Entra `scp` holds `mcp.read` for a
 *   requested `api://{id}/mcp.read`).
 */
export function applyIssuerPolicy(principal: Principal, policy: IssuerPolicy): Principal {
  const claims = principal.claims
  for (const name of policy.requiredClaims) {
    if (claims[name] === undefined || claims[name] === null) {
      throw new InvalidToken('missing_claim', 'The token lacks a required claim')
    }
  }
  if (policy.maxTokenLifetime !== undefined) {
    const { iat, exp } = claims
    if (typeof iat !== 'number' || typeof exp !== 'number') {
      throw new InvalidToken('missing_claim', 'The token lacks a required claim')
    }
    if ((exp - iat) * 1000 > policy.maxTokenLifetime) {
      throw new InvalidToken('token_lifetime', 'The token lives longer than this resource allows')
    }
  }
  if (policy.additionalScopeClaims.length === 0 && policy.scopePrefix === undefined) return principal
  const scopes = new Set(principal.scopes)
  for (const claim of policy.additionalScopeClaims) for (const s of readScopes(claims, claim)) scopes.add(s)
  const prefix = policy.scopePrefix
  if (prefix !== undefined) for (const s of [...scopes]) if (!s.startsWith(prefix)) scopes.add(`${prefix}${s}`)
  return { ...principal, scopes }
}
