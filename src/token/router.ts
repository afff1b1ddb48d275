import { decodeJwt } from 'jose'
import { InvalidToken } from '../errors.js'
import type { Principal, TokenVerifier } from './principal.js'
import { TokenCache } from './verified-cache.js'

export interface TokenRouterOptions {
  /** JWT verifiers by expected `iss`. */
  jwt: ReadonlyMap<string, TokenVerifier>
  /** The verifier for tokens that are not JWTs (introspection), if any issuer is configured so. */
  opaque?: TokenVerifier | undefined
  /** Verified JWTs kept (0 disables the cache). */
  cacheSize: number
}

const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/

/**
 * Picks the verifier for a token: a JWT goes to the verifier of its (unverified) `iss`, which then
 * checks everything including that same `iss`; any other token goes to introspection. Verified JWTs
 * are cached by token hash until their `exp`, so a repeated token costs a hash, not a signature.
 */
export function createTokenRouter(options: TokenRouterOptions): TokenVerifier & { cache: TokenCache<Principal> } {
  const cache = new TokenCache<Principal>(options.cacheSize)
  // Several issuers may share one verifier (one key set); each is warmed and closed once.
  const jwtVerifiers = [...new Set(options.jwt.values())]
  const only = jwtVerifiers.length === 1 ? jwtVerifiers[0] : undefined
  const verifiers = [...jwtVerifiers, ...(options.opaque ? [options.opaque] : [])]

  const pickJwtVerifier = (token: string): TokenVerifier => {
    if (only !== undefined) return only
    let iss: unknown
    try {
      iss = decodeJwt(token).iss
    } catch (error) {
      throw new InvalidToken('malformed_token', 'The token is malformed', { cause: error })
    }
    const verifier = typeof iss === 'string' ? options.jwt.get(iss) : undefined
    if (verifier === undefined) throw new InvalidToken('unknown_issuer', 'The token was issued by an untrusted issuer')
    return verifier
  }

  return {
    cache,
    async verify(token: string): Promise<Principal> {
      if (!JWS_COMPACT.test(token) || options.jwt.size === 0) {
        if (options.opaque !== undefined) return options.opaque.verify(token)
        throw new InvalidToken('malformed_token', 'The token is malformed')
      }
      const key = TokenCache.key(token)
      const cached = cache.get(key)
      if (cached !== undefined) return cached
      const principal = await pickJwtVerifier(token).verify(token)
      cache.set(key, principal, principal.expiresAt * 1000)
      return principal
    },
    async warmUp() {
      const results = await Promise.all(verifiers.map((v) => v.warmUp?.() ?? Promise.resolve(true)))
      return results.every(Boolean)
    },
    ready: () => verifiers.every((v) => v.ready?.() ?? true),
    async close() {
      await Promise.all(verifiers.map((v) => v.close?.()))
    },
  }
}
