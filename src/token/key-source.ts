import { createLocalJWKSet, createRemoteJWKSet, customFetch, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose'
import type { ResolvedAuthorizationServer } from '../config/normalize.js'
import { VerifierUnavailable } from '../errors.js'
import { events, type JwksFetchEvent } from '../observability/events.js'
import { DiscoveryError, discoverAuthorizationServer } from './discovery.js'
import { createHmacKeySource } from './hmac.js'

export interface KeySource {
  getKey: JWTVerifyGetKey
  /** Fetches keys now (startup); resolves whether they loaded. */
  warmUp(): Promise<boolean>
  ready(): boolean
}

/**
 * How long a failed discovery or JWKS fetch is remembered before a request may try again: an
 * authorization server that is down is not asked once per request, and requests meanwhile get a
 * quick answer (the last good keys, or 503 with `Retry-After: 5`).
 */
const RETRY_AFTER_FAILURE_MS = 5_000

/** jose codes of a key-set fetch that failed (timeout, non-200, not a JWKS); a `TypeError` is the network. */
const FETCH_FAILURES = new Set(['ERR_JWKS_TIMEOUT', 'ERR_JWKS_INVALID', 'ERR_JOSE_GENERIC'])

/**
 * Keys of one issuer: a local JWKS file, a JWKS URL, or the `jwks_uri` found by discovery. Remote
 * sets are cached by jose, which refetches once on an unknown `kid` (after the cooldown) and merges
 * concurrent refetches into one request. A failed fetch is not retried for `RETRY_AFTER_FAILURE_MS`.
 */
export function createKeySource(as: ResolvedAuthorizationServer): KeySource {
  if (as.hmacSecret !== undefined) return createHmacKeySource(as.hmacSecret)
  if (as.jwks !== undefined) {
    const local = createLocalJWKSet(as.jwks)
    return { getKey: local, warmUp: async () => true, ready: () => true }
  }

  let fetchFailedAt = 0
  const remoteFor = (uri: string) => {
    const fetchCounting = async (url: string, init: RequestInit) => {
      try {
        const response = await fetch(url, init)
        fetchFailedAt = response.ok ? 0 : Date.now()
        publish({ issuer: as.issuer, url, ok: response.ok })
        return response
      } catch (error) {
        fetchFailedAt = Date.now()
        publish({ issuer: as.issuer, url, ok: false })
        throw error
      }
    }
    return createRemoteJWKSet(new URL(uri), {
      cooldownDuration: as.jwksCooldown,
      cacheMaxAge: as.jwksCacheMaxAge,
      timeoutDuration: as.httpTimeout,
      [customFetch]: fetchCounting,
    })
  }

  let remote = as.jwksUri === undefined ? undefined : remoteFor(as.jwksUri)
  let discovering: Promise<ReturnType<typeof remoteFor>> | undefined
  let failedAt = 0

  const resolveRemote = async () => {
    if (remote !== undefined) return remote
    if (Date.now() - failedAt < RETRY_AFTER_FAILURE_MS) throw new VerifierUnavailable()
    discovering ??= discoverAuthorizationServer(as.issuer, { timeoutMs: as.httpTimeout })
      .then(({ metadata }) => {
        if (typeof metadata.jwks_uri !== 'string') throw new Error('the discovery document has no jwks_uri')
        remote = remoteFor(metadata.jwks_uri)
        return remote
      })
      .catch((error: unknown) => {
        failedAt = Date.now()
        const tried = error instanceof DiscoveryError ? `; tried ${error.attempts.map((a) => `${a.url}: ${a.outcome}`).join(', ')}` : ''
        events.notice.publish({ level: 'warn', message: `key discovery for ${as.issuer} failed: ${(error as Error).message}${tried}` })
        throw new VerifierUnavailable('Token verification keys are unavailable', error)
      })
      .finally(() => {
        discovering = undefined
      })
    return discovering
  }

  // When a refetch fails (cache age passed, or an unknown kid), jose keeps its last set but throws.
  // That set answers instead (stale-if-error): an AS outage longer than the cache age is not an
  // outage of the gateway, and a rotation missed meanwhile is an unknown key, as it would be anyway.
  let staleSet: { jwks: JSONWebKeySet; getKey: JWTVerifyGetKey } | undefined
  const fromStale = (set: RemoteSet, error: unknown): JWTVerifyGetKey => {
    const jwks = set.jwks()
    if (jwks === undefined) throw error
    if (staleSet?.jwks !== jwks) staleSet = { jwks, getKey: createLocalJWKSet(jwks) }
    return staleSet.getKey
  }

  return {
    getKey: async (header, token) => {
      const set = await resolveRemote()
      if (Date.now() - fetchFailedAt < RETRY_AFTER_FAILURE_MS) {
        return fromStale(set, new VerifierUnavailable('Token verification keys are unavailable'))(header, token)
      }
      try {
        return await set(header, token)
      } catch (error) {
        if (!isFetchFailure(error)) throw error
        return fromStale(set, error)(header, token)
      }
    },
    async warmUp() {
      try {
        const set = await resolveRemote()
        await set.reload()
        return true
      } catch (error) {
        events.notice.publish({ level: 'warn', message: `could not load keys for ${as.issuer}: ${(error as Error).message}` })
        return false
      }
    },
    ready: () => remote?.jwks() !== undefined,
  }
}

type RemoteSet = ReturnType<typeof createRemoteJWKSet>

function isFetchFailure(error: unknown): boolean {
  const code = (error as { code?: unknown }).code
  return error instanceof TypeError || (typeof code === 'string' && FETCH_FAILURES.has(code))
}

function publish(event: JwksFetchEvent): void {
  if (events.jwksFetch.hasSubscribers) events.jwksFetch.publish(event)
}
