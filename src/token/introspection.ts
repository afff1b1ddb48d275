import { createHash } from 'node:crypto'
import type { ResolvedAuthorizationServer } from './authorization-server-schema.js'
import { isLoopbackHost } from '../common/loopback.js'
import { IntrospectionCapped, VerifierUnavailable } from '../errors.js'
import { events, type IntrospectionEvent } from '../observability/events.js'
import type { StateStore } from '../state/store.js'
import { createAudienceCheck } from './audience.js'
import { discoverAuthorizationServer } from './discovery.js'
import {
  answerLifetime,
  checkIntrospectionAnswer,
  decodeStoredAnswer,
  encodeStoredAnswer,
  IntrospectionFailure,
  type AnswerRules,
  type IntrospectionAnswer,
  type StoredAnswer,
} from './introspection-answer.js'
import { createIntrospectionClient } from './introspection-client.js'
import { createIntrospectionCap } from './introspection-cap.js'
import type { Principal, TokenVerifier, VerifyContext } from './principal.js'
import { TokenCache } from '../common/token-cache.js'

export interface IntrospectionVerifierOptions {
  /** The canonical URI; the answer's `aud` must name it (RFC 8707 §2). */
  canonicalUri: string
  /** Where answers are kept: in memory, or Redis shared by several gateways. */
  store: StateStore
  /** Milliseconds since the epoch (tests). Default `Date.now`. */
  now?: () => number
}

/** A repeated failure (an AS down, Redis down) is reported once per this many milliseconds. */
const NOTICE_INTERVAL_MS = 30_000
/** How long a failed discovery of the endpoint is remembered before a request may try again. */
const DISCOVERY_RETRY_MS = 5_000

/**
 * Opaque tokens (and, in `introspect` mode, JWTs) of one issuer, judged by its RFC 7662 endpoint.
 *
 * Answers are cached under a SHA-256 of the token, never the token, for at most the configured
 * max TTL and never past `exp`; inactive answers for a few seconds. Concurrent requests with the
 * same uncached token share one call (per process; with Redis the answer is then shared by every
 * gateway). The stored answer carries the time it stops being reusable, so every process stops at
 * the same moment.
 *
 * In front of the store, each process keeps the principals of answers it has checked (bounded by
 * `cacheSize`, LRU), until that same moment: a warm request then costs a hash and a map lookup
 * instead of a store read, a JSON parse and the checks. Checking once is enough: an entry never
 * outlives `exp` nor the max TTL, and `nbf`/`iat` that passed stay passed. Refused answers
 * (inactive, another audience, ...) are not kept there; they are read from the store and judged
 * on every use, inactive ones for as briefly as before.
 *
 * An endpoint that cannot answer (unreachable, timeout, non-200, not JSON, no `active`) is a 503
 * with `Retry-After`, never a 401 nor a pass; cached answers keep serving meanwhile. Calls past
 * `maxRate` (per client address, in total) are a 503 with `Retry-After` too, and never made.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7662#section-2
 */
export function createIntrospectionVerifier(as: ResolvedAuthorizationServer, options: IntrospectionVerifierOptions): TokenVerifier {
  const settings = as.introspection
  if (settings === undefined) throw new TypeError(`createIntrospectionVerifier: ${as.issuer} has no introspection settings`)
  const now = options.now ?? Date.now
  const store = options.store
  const client = createIntrospectionClient({
    clientId: settings.clientId,
    clientSecret: settings.clientSecret,
    authMethod: settings.authMethod,
    timeout: as.httpTimeout,
  })
  const rules: AnswerRules = {
    issuer: as.issuer,
    acceptedIssuers: new Set(as.acceptedIssuers),
    audienceOk: createAudienceCheck([options.canonicalUri, ...as.audiences]),
    scopeClaim: as.scopeClaim,
    clockSkewSeconds: Math.round(as.clockSkew / 1000),
  }
  const lifetime = { maxTtl: settings.cacheMaxTtl, inactiveTtl: settings.inactiveCacheTtl }
  // Keys name the issuer by hash: short, and several issuers can share one Redis. `v2`: the value
  // holds its end (`encodeStoredAnswer`); gateways of the bare-answer format use other keys.
  const keyPrefix = `introspection:v2:${createHash('sha256').update(as.issuer).digest('base64url').slice(0, 16)}:`
  const inflight = new Map<string, Promise<StoredAnswer>>()
  // Per issuer (one verifier each), so a principal is never served for another issuer's token.
  const principals = new TokenCache<Principal>(settings.cacheSize)
  const cap = createIntrospectionCap({ ...settings.maxRate, now })

  let endpoint = settings.endpoint
  let discovering: Promise<string> | undefined
  let discoveryFailedAt = 0
  const lastNotice = new Map<string, number>()

  const notify = (kind: string, message: string) => {
    const t = now()
    if (t - (lastNotice.get(kind) ?? 0) < NOTICE_INTERVAL_MS || !events.notice.hasSubscribers) return
    lastNotice.set(kind, t)
    events.notice.publish({ level: 'warn', message })
  }
  const publish = (cached: boolean, outcome: IntrospectionEvent['outcome'], durationMs?: number) => {
    if (!events.introspection.hasSubscribers) return
    const event: IntrospectionEvent = { issuer: as.issuer, cached, outcome, ...(durationMs === undefined ? {} : { durationMs }) }
    events.introspection.publish(event)
  }

  async function resolveEndpoint(): Promise<string> {
    if (endpoint !== undefined) return endpoint
    if (now() - discoveryFailedAt < DISCOVERY_RETRY_MS) throw new VerifierUnavailable('Token introspection is temporarily unavailable')
    discovering ??= discoverAuthorizationServer(as.issuer, { timeoutMs: as.httpTimeout })
      .then(({ metadata }) => {
        const found = metadata.introspection_endpoint
        if (typeof found !== 'string') throw new Error('the discovery document has no introspection_endpoint')
        const url = new URL(found)
        if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
          throw new Error('the discovered introspection_endpoint is not https')
        }
        endpoint = found
        return found
      })
      .catch((error: unknown) => {
        discoveryFailedAt = now()
        notify('discovery', `introspection endpoint discovery for ${as.issuer} failed: ${(error as Error).message}`)
        throw new VerifierUnavailable('Token introspection is temporarily unavailable', error)
      })
      .finally(() => {
        discovering = undefined
      })
    return discovering
  }

  async function cachedAnswer(key: string): Promise<StoredAnswer | undefined> {
    let text: string | undefined
    try {
      text = await store.get(key)
    } catch (error) {
      notify('store', `introspection cache unavailable, asking ${as.issuer} directly: ${(error as Error).message}`)
      return undefined
    }
    if (text === undefined) return undefined
    const stored = decodeStoredAnswer(text)
    if (stored === undefined || stored.until <= now()) return undefined
    publish(true, stored.answer.active ? 'active' : 'inactive')
    return stored
  }

  async function askAuthorizationServer(key: string, token: string): Promise<StoredAnswer> {
    const target = await resolveEndpoint()
    const started = performance.now()
    let answer: IntrospectionAnswer
    try {
      answer = await client.introspect(target, token)
    } catch (error) {
      publish(false, 'error', performance.now() - started)
      const detail = error instanceof IntrospectionFailure ? error.detail : 'failed'
      // Throttled per kind of failure, so a change (timeouts turning into refusals) is still reported.
      notify(`endpoint ${detail}`, `introspection at ${printable(target)} failed: ${detail}`)
      throw new VerifierUnavailable('Token introspection is temporarily unavailable', error)
    }
    publish(false, answer.active ? 'active' : 'inactive', performance.now() - started)
    const answeredAt = now()
    const ttl = answerLifetime(answer, lifetime, answeredAt)
    if (ttl > 0) {
      try {
        await store.set(key, encodeStoredAnswer(answer, answeredAt + ttl), ttl)
      } catch (error) {
        notify('store', `introspection cache unavailable, answers are not kept: ${(error as Error).message}`)
      }
    }
    return { answer, until: answeredAt + ttl }
  }

  /** A call shared with a request already waiting costs nothing; a new one counts toward the cap. */
  function introspectOnce(key: string, token: string, context: VerifyContext | undefined): Promise<StoredAnswer> {
    const pending = inflight.get(key)
    if (pending !== undefined) return pending
    const retryAfter = cap.take(context?.clientAddress)
    if (retryAfter !== undefined) {
      notify('cap', `introspection calls to ${as.issuer} capped (MCP_INTROSPECT_MAX_RATE): answering 503`)
      throw new IntrospectionCapped(retryAfter)
    }
    const flight = askAuthorizationServer(key, token).finally(() => inflight.delete(key))
    inflight.set(key, flight)
    return flight
  }

  return {
    // A checked answer still held costs what a cached verified JWT costs: no promise round trip.
    verifyCached(token: string): Principal | undefined {
      const known = principals.get(TokenCache.key(token), now())
      if (known !== undefined) publish(true, 'active')
      return known
    },
    async verify(token: string, context?: VerifyContext): Promise<Principal> {
      const hash = TokenCache.key(token)
      const known = principals.get(hash, now())
      if (known !== undefined) {
        publish(true, 'active')
        return known
      }
      const key = keyPrefix + hash
      const { answer, until } = (await cachedAnswer(key)) ?? (await introspectOnce(key, token, context))
      const nowMs = now()
      const nowSeconds = nowMs / 1000
      const fallbackExpiresAt = Math.floor(nowSeconds) + Math.max(1, Math.ceil(settings.cacheMaxTtl / 1000))
      const principal = checkIntrospectionAnswer(answer, rules, nowSeconds, fallbackExpiresAt)
      // Bounded again here, so that a stored end (Redis is shared) can never stretch an entry past
      // the max TTL from now nor past `exp`.
      const keepUntil = Math.min(until, nowMs + lifetime.maxTtl, principal.expiresAt * 1000)
      if (keepUntil > nowMs) principals.set(hash, principal, keepUntil)
      return principal
    },
    async warmUp() {
      try {
        await resolveEndpoint()
        return true
      } catch {
        return false
      }
    },
    ready: () => endpoint !== undefined,
    forget(matches) {
      principals.deleteWhere(matches)
    },
    async close() {
      await client.close()
    },
  }
}

/** The endpoint without credentials or query, for notices. */
function printable(endpoint: string): string {
  const url = new URL(endpoint)
  return `${url.origin}${url.pathname}`
}
