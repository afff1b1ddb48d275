import { createLocalJWKSet, createRemoteJWKSet, customFetch, type JWTVerifyGetKey } from 'jose'
import type { ResolvedAuthorizationServer } from '../config/normalize.js'
import { VerifierUnavailable } from '../errors.js'
import { events, type JwksFetchEvent } from '../observability/events.js'
import { discoverAuthorizationServer } from './discovery.js'

export interface KeySource {
  getKey: JWTVerifyGetKey
  /** Fetches keys now (startup); resolves whether they loaded. */
  warmUp(): Promise<boolean>
  ready(): boolean
}

/** How long a failed discovery is remembered before the next request may try again. */
const DISCOVERY_RETRY_MS = 5_000

/**
 * Keys of one issuer: a local JWKS file, a JWKS URL, or the `jwks_uri` found by discovery. Remote
 * sets are cached by jose, which refetches once on an unknown `kid` (after the cooldown) and merges
 * concurrent refetches into one request.
 */
export function createKeySource(as: ResolvedAuthorizationServer): KeySource {
  if (as.jwks !== undefined) {
    const local = createLocalJWKSet(as.jwks)
    return { getKey: local, warmUp: async () => true, ready: () => true }
  }

  let loaded = false
  const remoteFor = (uri: string) => {
    const fetchCounting = async (url: string, init: RequestInit) => {
      try {
        const response = await fetch(url, init)
        if (response.ok) loaded = true
        publish({ issuer: as.issuer, url, ok: response.ok })
        return response
      } catch (error) {
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
    if (Date.now() - failedAt < DISCOVERY_RETRY_MS) throw new VerifierUnavailable()
    discovering ??= discoverAuthorizationServer(as.issuer, { timeoutMs: as.httpTimeout })
      .then(({ metadata }) => {
        if (typeof metadata.jwks_uri !== 'string') throw new Error('the discovery document has no jwks_uri')
        remote = remoteFor(metadata.jwks_uri)
        return remote
      })
      .catch((error: unknown) => {
        failedAt = Date.now()
        events.notice.publish({ level: 'warn', message: `key discovery for ${as.issuer} failed: ${(error as Error).message}` })
        throw new VerifierUnavailable('Token verification keys are unavailable', error)
      })
      .finally(() => {
        discovering = undefined
      })
    return discovering
  }

  return {
    getKey: async (header, token) => (await resolveRemote())(header, token),
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
    ready: () => loaded,
  }
}

function publish(event: JwksFetchEvent): void {
  if (events.jwksFetch.hasSubscribers) events.jwksFetch.publish(event)
}
