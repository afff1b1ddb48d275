import { createLocalJWKSet, errors, type JSONWebKeySet, type JWK, type JWTVerifyGetKey } from 'jose'
import type { ResolvedAuthorizationServer } from './authorization-server-schema.js'
import { VerifierUnavailable } from '../errors.js'
import { events } from '../observability/events.js'
import { DiscoveryError, discoverAuthorizationServer } from './discovery.js'
import type { KeySource, KeysRemovedListener } from './key-source.js'

/** Delays between failed attempts: the first, and the cap it doubles up to. */
export interface Backoff {
  initialMs: number
  maxMs: number
}

/** 1 s doubling to 30 s: an AS back after a blip is seen within a second, a long outage costs one fetch per 30 s. */
export const KEY_FETCH_BACKOFF: Backoff = { initialMs: 1000, maxMs: 30_000 }

/**
 * Milliseconds to wait after the `failures`-th failure in a row: exponential, capped, and jittered
 * to between half and all of it, so gateways started together do not ask the AS in step.
 */
export function retryDelay(failures: number, backoff: Backoff, random: () => number = Math.random): number {
  const full = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.max(0, failures - 1))
  return Math.round(full / 2 + (full / 2) * random())
}

export interface RemoteKeysOptions {
  /** Default `KEY_FETCH_BACKOFF`. */
  backoff?: Backoff
}

/**
 * The keys of an issuer at a JWKS URL (given, or its `jwks_uri` found by discovery).
 *
 * - Fetched at warm-up, again once `jwksCacheMaxAge` has passed, and on a `kid` the set does not
 *   hold. Only those unknown-kid refetches start the `jwksCooldown`: a key the AS has just
 *   published is found on the first request that carries it, whenever the last fetch was.
 * - Concurrent fetches are merged into one request.
 * - A failed fetch (unreachable, timeout, non-200, a body that is not JSON or not a JWKS) is not
 *   tried again before a jittered, doubling delay (`KEY_FETCH_BACKOFF`); until keys first load, a
 *   timer retries on that schedule without waiting for traffic, so `/readyz` recovers by itself.
 * - Keys in hand keep answering while fetches fail (stale-if-error), except for a `kid` they do
 *   not hold: that token may be signed by a key the AS published meanwhile, so it is a 503 with
 *   `Retry-After`, not a 401 (docs/errors.md).
 * - A successful fetch that drops keys tells the listeners which `kid`s went (the verified-token
 *   cache forgets the tokens they signed).
 */
export function createRemoteKeys(as: ResolvedAuthorizationServer, options: RemoteKeysOptions = {}): KeySource {
  const backoff = options.backoff ?? KEY_FETCH_BACKOFF
  const listeners = new Set<KeysRemovedListener>()
  let jwksUri = as.jwksUri
  let keys: { jwks: JSONWebKeySet; getKey: JWTVerifyGetKey; fetchedAt: number } | undefined
  let pending: Promise<void> | undefined
  let failures = 0
  /** No attempt before this (set by a failure; 0 once a fetch succeeds). */
  let retryAt = 0
  let unknownKidRefetchAt = Number.NEGATIVE_INFINITY
  let timer: NodeJS.Timeout | undefined
  let closed = false

  const unavailable = (cause?: unknown) =>
    new VerifierUnavailable('Token verification keys are unavailable', cause, Math.max(1, Math.ceil((retryAt - Date.now()) / 1000)))

  async function load(): Promise<JSONWebKeySet> {
    jwksUri ??= await discoverJwksUri(as)
    const url = jwksUri
    try {
      const jwks = await fetchJwks(url, as.httpTimeout)
      publish(as.issuer, url, true)
      return jwks
    } catch (error) {
      publish(as.issuer, url, false)
      throw error
    }
  }

  function succeeded(jwks: JSONWebKeySet, getKey: JWTVerifyGetKey): void {
    const previous = keys?.jwks
    keys = { jwks, getKey, fetchedAt: Date.now() }
    if (failures > 0 && previous === undefined) events.notice.publish({ level: 'info', message: `keys for ${as.issuer} loaded` })
    failures = 0
    retryAt = 0
    const removed = previous === undefined ? [] : removedKeys(previous, jwks)
    if (removed.length > 0) for (const listener of listeners) listener(new Set(removed.map((k) => k.kid)))
  }

  function failed(error: unknown): never {
    failures++
    retryAt = Date.now() + retryDelay(failures, backoff)
    if (failures === 1) events.notice.publish({ level: 'warn', message: `could not load keys for ${as.issuer}: ${(error as Error).message}` })
    // Until keys first load nothing else would ask again: a load balancer waiting for `/readyz`
    // sends no traffic.
    if (keys === undefined && !closed) {
      clearTimeout(timer)
      timer = setTimeout(() => void refresh().catch(() => {}), retryAt - Date.now()).unref()
    }
    throw unavailable(error)
  }

  /** One fetch at a time; callers meanwhile share its outcome. Rejects with `VerifierUnavailable`. */
  function refresh(): Promise<void> {
    pending ??= load()
      .then((jwks) => succeeded(jwks, createLocalJWKSet(jwks)))
      .catch(failed)
      .finally(() => {
        pending = undefined
      })
    return pending
  }

  const canTry = () => Date.now() >= retryAt

  return {
    async getKey(header, token) {
      if (keys === undefined || (Date.now() - keys.fetchedAt >= as.jwksCacheMaxAge && canTry())) {
        if (!canTry() && pending === undefined) throw unavailable()
        await refresh().catch((error: unknown) => {
          if (keys === undefined) throw error
        })
      }
      const held = keys as NonNullable<typeof keys>
      try {
        return await held.getKey(header, token)
      } catch (error) {
        if (!(error instanceof errors.JWKSNoMatchingKey)) throw error
        if (pending !== undefined) {
          await pending.catch(() => {})
        } else {
          if (!canTry()) throw unavailable(error)
          if (Date.now() - unknownKidRefetchAt < as.jwksCooldown) throw error
          unknownKidRefetchAt = Date.now()
          await refresh()
        }
        // Refreshed by this request or the one it waited for; a failure there is a 503.
        if (failures > 0) throw unavailable(error)
        return (keys as NonNullable<typeof keys>).getKey(header, token)
      }
    },
    async warmUp() {
      try {
        await refresh()
        return true
      } catch {
        return false
      }
    },
    ready: () => keys !== undefined,
    onKeysRemoved(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    close() {
      closed = true
      clearTimeout(timer)
    },
  }
}

async function discoverJwksUri(as: ResolvedAuthorizationServer): Promise<string> {
  try {
    const { metadata } = await discoverAuthorizationServer(as.issuer, { timeoutMs: as.httpTimeout })
    if (typeof metadata.jwks_uri !== 'string') throw new Error('the discovery document has no jwks_uri')
    return metadata.jwks_uri
  } catch (error) {
    const tried = error instanceof DiscoveryError ? `; tried ${error.attempts.map((a) => `${a.url}: ${a.outcome}`).join(', ')}` : ''
    throw new Error(`key discovery failed: ${(error as Error).message}${tried}`, { cause: error })
  }
}

/** A JWKS, or a throw: every way the answer can be unusable is one failure (and one backoff). */
async function fetchJwks(url: string, timeoutMs: number): Promise<JSONWebKeySet> {
  const response = await fetch(url, {
    headers: { accept: 'application/json, application/jwk-set+json' },
    redirect: 'manual',
    signal: AbortSignal.timeout(timeoutMs),
  })
  if (response.status !== 200) {
    await response.body?.cancel()
    throw new Error(`the JWKS URL answered HTTP ${response.status}`)
  }
  let body: unknown
  try {
    body = await response.json()
  } catch {
    throw new Error('the JWKS URL answered with a body that is not JSON')
  }
  const keys = (body as { keys?: unknown } | null)?.keys
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'object' && k !== null && !Array.isArray(k))) {
    throw new Error('the JWKS URL answered with JSON that is not a JWK Set (RFC 7517 §5)')
  }
  return body as JSONWebKeySet
}

/** Keys of `before` that `after` no longer holds (compared whole: a `kid` over new material is a removal). */
export function removedKeys(before: JSONWebKeySet, after: JSONWebKeySet): JWK[] {
  const kept = new Set(after.keys.map((k) => JSON.stringify(k)))
  return before.keys.filter((k) => !kept.has(JSON.stringify(k)))
}

function publish(issuer: string, url: string, ok: boolean): void {
  if (events.jwksFetch.hasSubscribers) events.jwksFetch.publish({ issuer, url, ok })
}
