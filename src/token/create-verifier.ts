import type { Config, ResolvedAuthorizationServer } from '../config/normalize.js'
import { InvalidToken } from '../errors.js'
import { createMemoryStore } from '../state/memory-store.js'
import { createRedisStore } from '../state/redis-store.js'
import type { StateStore } from '../state/store.js'
import { createIntrospectionVerifier } from './introspection.js'
import { createJwtVerifier } from './jwt.js'
import type { Principal, TokenVerifier } from './principal.js'
import { createTokenRouter } from './router.js'
import { readScopes } from './scopes-claim.js'

/** Verified JWTs remembered by default: enough for a busy gateway, a few MB at most. */
const DEFAULT_CACHE_SIZE = 10_000

/**
 * One verifier per configured issuer, behind the router that picks among them: a JWT goes to the
 * issuer its `iss` names (by signature, or to that issuer's introspection endpoint in
 * `introspect` mode); any other token goes to the one issuer chosen for opaque tokens. Each
 * issuer's own policy (`maxTokenLifetime`, `requiredClaims`, extra scope claims) wraps its
 * verifier, so cached results have passed it too.
 */
export function createVerifier(config: Pick<Config, 'resource' | 'authorizationServers' | 'redis'>): TokenVerifier {
  const canonicalUri = config.resource.canonicalUri
  // One Redis connection serves every issuer (keys carry the issuer); memory stores are per issuer.
  const shared: StateStore | undefined = config.redis === undefined ? undefined : createRedisStore(config.redis)
  const stores: StateStore[] = shared === undefined ? [] : [shared]

  const jwt = new Map<string, TokenVerifier>()
  const introspectors = new Set<TokenVerifier>()
  let opaque: TokenVerifier | undefined

  for (const as of config.authorizationServers) {
    if (as.verifiesJwt) {
      // One verifier (one key set, one JWKS fetcher) for every issuer string of this server.
      const verifier = withIssuerPolicy(createJwtVerifier(as, { canonicalUri }), as)
      for (const iss of as.acceptedIssuers) jwt.set(iss, verifier)
    }
    if (as.introspection !== undefined) {
      let store = shared
      if (store === undefined) {
        store = createMemoryStore({ maxEntries: as.introspection.cacheSize })
        stores.push(store)
      }
      const verifier = withIssuerPolicy(createIntrospectionVerifier(as, { canonicalUri, store }), as)
      introspectors.add(verifier)
      // In introspect mode this server's JWTs are introspected too (revocation seen within the max TTL).
      if (!as.verifiesJwt) for (const iss of as.acceptedIssuers) jwt.set(iss, verifier)
      if (as.introspection.opaqueTokens) opaque = verifier
    }
  }

  const router = createTokenRouter({ jwt, opaque, uncached: introspectors, cacheSize: DEFAULT_CACHE_SIZE })
  // An introspector that no route reaches (it answers neither JWTs nor opaque tokens) is still
  // warmed and closed with the rest.
  const unrouted = [...introspectors].filter((v) => v !== opaque && ![...jwt.values()].includes(v))
  return {
    verify: router.verify,
    verifyCached: router.verifyCached,
    async warmUp() {
      const results = await Promise.all([router.warmUp?.() ?? true, ...unrouted.map((v) => v.warmUp?.() ?? true)])
      return results.every(Boolean)
    },
    ready: () => (router.ready?.() ?? true) && unrouted.every((v) => v.ready?.() ?? true),
    async close() {
      await Promise.all([router.close?.(), ...unrouted.map((v) => v.close?.())])
      await Promise.all(stores.map((s) => s.close()))
    },
  }
}

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
  return { ...rest, verify: async (token) => applyIssuerPolicy(await verifier.verify(token), policy) }
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
