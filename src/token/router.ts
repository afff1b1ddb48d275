import { decodeJwt, decodeProtectedHeader } from 'jose'
import { InvalidToken } from '../errors.js'
import type { Principal, TokenVerifier, VerifyContext } from './principal.js'
import { TokenCache } from '../common/token-cache.js'

export interface TokenRouterOptions {
  /** JWT verifiers by expected `iss`. */
  jwt: ReadonlyMap<string, TokenVerifier>
  /** The verifier for tokens that are not JWTs (introspection), if any issuer is configured so. */
  opaque?: TokenVerifier | undefined
  /**
   * Verifiers whose answers are not kept until `exp`: introspection, whose own cache is bounded by
   * the configured max TTL so that a revocation is seen in time. Opaque answers are never kept.
   */
  uncached?: ReadonlySet<TokenVerifier>
  /** Verified JWTs kept (0 disables the cache). */
  cacheSize: number
  /**
   * The cache of the router this one replaces (a reload): its entries whose verifier is still in
   * use here are kept.
   */
  previousCache?: TokenCache<VerifiedEntry> | undefined
}

/** A verified JWT: its principal, the verifier that judged it and the `kid` of the key it named. */
export interface VerifiedEntry {
  readonly principal: Principal
  readonly verifier: TokenVerifier
  readonly kid: string | undefined
}

export const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/

/**
 * Picks the verifier for a token: a JWT goes to the verifier of its (unverified) `iss`, which then
 * checks everything including that same `iss`; any other token goes to introspection. Verified JWTs
 * are cached by token hash until their `exp`, so a repeated token costs a hash, not a signature.
 */
export function createTokenRouter(
  options: TokenRouterOptions,
): TokenVerifier & { cache: TokenCache<VerifiedEntry>; /** Stops listening to the verifiers, leaving them open (a reload hands them on). */ detach(): void } {
  const cache = new TokenCache<VerifiedEntry>(options.cacheSize)
  // Several issuers may share one verifier (one key set); each is warmed and closed once.
  const jwtVerifiers = [...new Set(options.jwt.values())]
  const inUse = new Set<TokenVerifier>(jwtVerifiers)
  if (options.previousCache !== undefined) cache.adopt(options.previousCache, (entry) => inUse.has(entry.verifier))
  // A token whose key the AS withdrew (RFC 7517 §5: the set is the AS's current keys) is not
  // served from the cache until its `exp`; a token without `kid` may have used any removed key.
  const unsubscribe = jwtVerifiers.map((verifier) =>
    verifier.onKeysRemoved?.((kids) =>
      cache.deleteWhere((entry) => entry.verifier === verifier && (entry.kid === undefined || kids.has(entry.kid))),
    ),
  )
  const detach = () => {
    for (const off of unsubscribe) off?.()
  }
  const only = jwtVerifiers.length === 1 ? jwtVerifiers[0] : undefined
  const verifiers = [...new Set([...jwtVerifiers, ...(options.opaque ? [options.opaque] : [])])]
  const uncached = options.uncached ?? new Set<TokenVerifier>()
  // With no issuer checked by signature (introspect mode only), a JWT of an issuer that routes
  // nowhere is still the introspection endpoint's to judge, as nginx-mcp-resource does.
  const introspectUnrouted = options.opaque !== undefined && jwtVerifiers.every((v) => uncached.has(v))

  const pickJwtVerifier = (token: string): TokenVerifier => {
    if (only !== undefined) return only
    let iss: unknown
    try {
      iss = decodeJwt(token).iss
    } catch (error) {
      throw new InvalidToken('malformed_token', 'The token is malformed', { cause: error })
    }
    const verifier = (typeof iss === 'string' ? options.jwt.get(iss) : undefined) ?? (introspectUnrouted ? options.opaque : undefined)
    if (verifier === undefined) throw new InvalidToken('unknown_issuer', 'The token was issued by an untrusted issuer')
    return verifier
  }

  return {
    cache,
    verifyCached(token: string): Principal | undefined {
      // A token without a dot is never a JWT: `verify` would hand it to introspection, whose own
      // answer cache can tell at once too.
      if (token.indexOf('.') === -1) return options.opaque?.verifyCached?.(token)
      // Only verified JWTs of cacheable verifiers fill the cache, so a hit needs neither routing
      // nor a second look at the token's shape.
      if (cache.size === 0) return undefined
      return cache.get(TokenCache.key(token))?.principal
    },
    async verify(token: string, context?: VerifyContext): Promise<Principal> {
      if (!JWS_COMPACT.test(token) || options.jwt.size === 0) {
        if (options.opaque !== undefined) return options.opaque.verify(token, context)
        throw new InvalidToken('malformed_token', 'The token is malformed')
      }
      const key = TokenCache.key(token)
      // Only cacheable verifiers ever fill the cache, so a hit needs no routing.
      const cached = cache.get(key)
      if (cached !== undefined) return cached.principal
      const verifier = pickJwtVerifier(token)
      const principal = await verifier.verify(token, context)
      if (!uncached.has(verifier) && verifier !== options.opaque) {
        const kid = decodeProtectedHeader(token).kid
        cache.set(key, { principal, verifier, kid: typeof kid === 'string' ? kid : undefined }, principal.expiresAt * 1000)
      }
      return principal
    },
    async warmUp() {
      const results = await Promise.all(verifiers.map((v) => v.warmUp?.() ?? Promise.resolve(true)))
      return results.every(Boolean)
    },
    ready: () => verifiers.every((v) => v.ready?.() ?? true),
    forget(matches) {
      cache.deleteWhere((entry, key) => matches(entry.principal, key))
      for (const verifier of verifiers) verifier.forget?.(matches)
    },
    detach,
    async close() {
      detach()
      await Promise.all(verifiers.map((v) => v.close?.()))
    },
  }
}
