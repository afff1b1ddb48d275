import { IdentityRefused, IdentityUnavailable } from '../errors.js'
import { events, type TokenExchangeEvent } from '../observability/events.js'
import type { Principal } from '../token/principal.js'
import { ExchangeCache, type CachedToken } from './exchange-cache.js'
import { TokenEndpointFailure, type IssuedToken, type TokenRequest } from './exchange-request.js'
import type { ExchangeSettings } from './settings.js'
import { createSharedExchangeCache, type SharedExchangeCache } from './shared-exchange-cache.js'
import { createTokenEndpointClient, type TokenEndpointClient } from './token-endpoint.js'
import type { IdentityHeaders, IdentityRequest, UpstreamIdentity } from './upstream-identity.js'

export interface ExchangeIdentityOptions {
  /** Milliseconds since the epoch (tests move it). */
  now?: () => number
  client?: TokenEndpointClient
  /** Replaces the Redis-backed cache of `settings.sharedCache` (tests). */
  shared?: SharedExchangeCache
}

/**
 * Exchange mode: the backend gets a token the authorization server issued for it, on the
 * caller's behalf (RFC 8693, or Entra On-Behalf-Of), so it sees the caller's own `sub`.
 * Exchanged tokens are cached per (client token, audience, scopes) until `expires_in` minus
 * the margin and never past the client token's `exp`; concurrent first calls share one exchange.
 * With `sharedCache`, a miss here is looked up in Redis before the token endpoint is asked, and a
 * fresh token is written there for the other gateways.
 */
export function createExchangeIdentity(settings: ExchangeSettings, options: ExchangeIdentityOptions = {}): UpstreamIdentity {
  const now = options.now ?? Date.now
  const client = options.client ?? createTokenEndpointClient(settings)
  const cache = new ExchangeCache(settings.cacheSize, now)
  const shared =
    options.shared ?? (settings.sharedCache === undefined ? undefined : createSharedExchangeCache(settings.sharedCache.redis, settings.sharedCache.key))
  const audience = settings.audience ?? settings.resource ?? settings.scope.join(' ')
  const strip: ReadonlySet<string> = new Set([settings.header])
  const bearer = settings.header === 'authorization'
  const headersFor = (token: string): IdentityHeaders => ({ strip, add: { [settings.header]: bearer ? `Bearer ${token}` : token } })

  /** One call to the token endpoint, timed, its outcome published; the answer as a cache entry. */
  async function ask(request: TokenRequest, notAfter: number): Promise<CachedToken> {
    const started = performance.now()
    let issued: IssuedToken
    try {
      issued = await client.request(request)
    } catch (error) {
      const outcome = error instanceof TokenEndpointFailure && error.kind === 'refused' ? 'refused' : 'unavailable'
      publish({ outcome, durationMs: performance.now() - started })
      throw error
    }
    publish({ outcome: 'issued', durationMs: performance.now() - started })
    // No `expires_in`: used for this request only.
    const expiresAt =
      issued.expiresIn === undefined ? now() : Math.min(now() + issued.expiresIn * 1000 - settings.cacheMarginMs, notAfter)
    return { token: issued.accessToken, expiresAt }
  }

  /** The gateway's own client-credentials token (actor token, app-only fallback). */
  function ownToken(scope: readonly string[]): Promise<CachedToken> {
    const key = ExchangeCache.key('client_credentials', audience, scope.join(' '))
    const cached = cache.get(key)
    if (cached !== undefined) return Promise.resolve({ token: cached, expiresAt: Infinity })
    return cache.obtain(key, () => ask({ kind: 'client_credentials', scope }, Infinity))
  }

  async function exchange(key: string, token: string, principal: Principal, scope: readonly string[]): Promise<IdentityHeaders> {
    const notAfter = principal.expiresAt * 1000
    const entry = await cache.obtain(key, async () => {
      const found = await shared?.get(key, now())
      // The key hashes the client token, so a shared entry already ends by its `exp`; checked anyway.
      if (found !== undefined && found.expiresAt <= notAfter) {
        publish({ outcome: 'cache_hit' })
        return found
      }
      const actorToken = settings.actorToken === 'client-credentials' ? (await ownToken([])).token : undefined
      const issued = await ask({ kind: 'exchange', subjectToken: token, scope, actorToken }, notAfter)
      await shared?.set(key, issued, now())
      return issued
    })
    return headersFor(entry.token)
  }

  function refusal(error: unknown, jsonRpcId: string | number | undefined): unknown {
    if (!(error instanceof TokenEndpointFailure)) return error
    if (error.kind === 'refused') return new IdentityRefused(audience, error.code, jsonRpcId)
    return new IdentityUnavailable(error)
  }

  return {
    mode: 'exchange',
    audience,
    jwks: undefined,
    identify({ token, principal, tool, jsonRpcId }: IdentityRequest): IdentityHeaders | Promise<IdentityHeaders> {
      const scope = (tool === undefined ? undefined : settings.tools.get(tool)) ?? settings.scope
      if (settings.appOnlyFallback !== 'exchange' && isAppOnly(principal)) {
        if (settings.appOnlyFallback === 'refuse') {
          publish({ outcome: 'app_only' })
          throw new IdentityRefused(audience, 'app_only_token', jsonRpcId)
        }
        return ownToken(scope).then(
          (entry) => headersFor(entry.token),
          (error: unknown) => Promise.reject(refusal(error, jsonRpcId)),
        )
      }
      const key = ExchangeCache.key(token, audience, scope.join(' '))
      const cached = cache.get(key)
      if (cached !== undefined) {
        publish({ outcome: 'cache_hit' })
        return headersFor(cached)
      }
      return exchange(key, token, principal, scope).catch((error: unknown) => Promise.reject(refusal(error, jsonRpcId)))
    },
    close: async () => shared?.close(),
  }
}

/**
 * A token that speaks for an application, not a user: no `sub`, a `sub` that is the client id
 * (the client-credentials grant, RFC 9068 §2.2), or Entra's `idtyp: app`.
 */
function isAppOnly(principal: Principal): boolean {
  return principal.subject === undefined || principal.subject === principal.clientId || principal.claims['idtyp'] === 'app'
}

function publish(event: TokenExchangeEvent): void {
  if (events.tokenExchange.hasSubscribers) events.tokenExchange.publish(event)
}
