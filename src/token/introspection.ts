import { createHash } from 'node:crypto'
import type { ResolvedAuthorizationServer } from '../config/normalize.js'
import { isLoopbackHost } from '../config/loopback.js'
import { VerifierUnavailable } from '../errors.js'
import { events, type IntrospectionEvent } from '../observability/events.js'
import type { StateStore } from '../state/store.js'
import { createAudienceCheck } from './audience.js'
import { discoverAuthorizationServer } from './discovery.js'
import {
  answerLifetime,
  checkIntrospectionAnswer,
  IntrospectionFailure,
  type AnswerRules,
  type IntrospectionAnswer,
} from './introspection-answer.js'
import { createIntrospectionClient } from './introspection-client.js'
import type { Principal, TokenVerifier } from './principal.js'
import { TokenCache } from './verified-cache.js'

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
 * gateway). A cached answer is judged again on every use, so `exp` is checked at the time of use.
 * An endpoint that cannot answer (unreachable, timeout, non-200, not JSON, no `active`) is a 503
 * with `Retry-After`, never a 401 nor a pass; cached answers keep serving meanwhile.
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
  // Keys name the issuer by hash: short, and several issuers can share one Redis.
  const keyPrefix = `introspection:${createHash('sha256').update(as.issuer).digest('base64url').slice(0, 16)}:`
  const inflight = new Map<string, Promise<IntrospectionAnswer>>()

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

  async function cachedAnswer(key: string): Promise<IntrospectionAnswer | undefined> {
    let text: string | undefined
    try {
      text = await store.get(key)
    } catch (error) {
      notify('store', `introspection cache unavailable, asking ${as.issuer} directly: ${(error as Error).message}`)
      return undefined
    }
    if (text === undefined) return undefined
    try {
      const answer = JSON.parse(text) as IntrospectionAnswer
      if (typeof answer.active !== 'boolean') return undefined
      publish(true, answer.active ? 'active' : 'inactive')
      return answer
    } catch {
      return undefined
    }
  }

  async function askAuthorizationServer(key: string, token: string): Promise<IntrospectionAnswer> {
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
    const ttl = answerLifetime(answer, lifetime, now())
    if (ttl > 0) {
      // An inactive answer is stored bare: nothing else in it matters, and it may hold claims.
      const stored = JSON.stringify(answer.active ? answer : { active: false })
      try {
        await store.set(key, stored, ttl)
      } catch (error) {
        notify('store', `introspection cache unavailable, answers are not kept: ${(error as Error).message}`)
      }
    }
    return answer
  }

  function introspectOnce(key: string, token: string): Promise<IntrospectionAnswer> {
    const pending = inflight.get(key)
    if (pending !== undefined) return pending
    const flight = askAuthorizationServer(key, token).finally(() => inflight.delete(key))
    inflight.set(key, flight)
    return flight
  }

  return {
    async verify(token: string): Promise<Principal> {
      const key = keyPrefix + TokenCache.key(token)
      const answer = (await cachedAnswer(key)) ?? (await introspectOnce(key, token))
      const nowSeconds = now() / 1000
      const fallbackExpiresAt = Math.floor(nowSeconds) + Math.max(1, Math.ceil(settings.cacheMaxTtl / 1000))
      return checkIntrospectionAnswer(answer, rules, nowSeconds, fallbackExpiresAt)
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
