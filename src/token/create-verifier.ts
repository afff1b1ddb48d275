import type { Config } from '../config/normalize.js'
import { createJwtVerifier } from './jwt.js'
import type { TokenVerifier } from './principal.js'
import { createTokenRouter } from './router.js'

/** Verified JWTs remembered by default: enough for a busy gateway, a few MB at most. */
const DEFAULT_CACHE_SIZE = 10_000

/** One verifier per configured issuer, behind the router that picks among them. */
export function createVerifier(config: Config): TokenVerifier {
  const jwt = new Map<string, TokenVerifier>()
  for (const as of config.authorizationServers) {
    jwt.set(as.expectedIssuer, createJwtVerifier(as, { canonicalUri: config.resource.canonicalUri }))
  }
  return createTokenRouter({ jwt, cacheSize: DEFAULT_CACHE_SIZE })
}
