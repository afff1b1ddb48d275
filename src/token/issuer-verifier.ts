import { isDeepStrictEqual } from 'node:util'
import type { ResolvedAuthorizationServer } from './authorization-server-schema.js'
import { Secret } from '../common/secret-file.js'
import { createMemoryStore } from '../state/memory-store.js'
import type { RedisConfig } from '../state/redis-config.js'
import type { StateStore } from '../state/store.js'
import { withIssuerPolicy } from './issuer-policy.js'
import { createIntrospectionVerifier } from './introspection.js'
import { createJwtVerifier } from './jwt.js'
import type { TokenVerifier } from './principal.js'

/**
 * The verifiers of one configured authorization server, with what they were built from: the unit
 * a reload keeps (its keys, verified tokens and introspection answers) when those settings are
 * unchanged, or replaces.
 */
export interface IssuerVerifier {
  readonly as: ResolvedAuthorizationServer
  readonly canonicalUri: string
  /** The Redis its introspection answers live in; `undefined`: its own memory store. */
  readonly redis: RedisConfig | undefined
  /** Signature verification, when this server's JWTs are checked so. */
  readonly jwt: TokenVerifier | undefined
  readonly introspector: TokenVerifier | undefined
  warmUp(): Promise<boolean>
  ready(): boolean
  close(): Promise<void>
}

export interface IssuerVerifierOptions {
  canonicalUri: string
  /** The Redis store shared by every issuer, when one is configured. */
  shared: { store: StateStore; config: RedisConfig } | undefined
}

export function createIssuerVerifier(as: ResolvedAuthorizationServer, options: IssuerVerifierOptions): IssuerVerifier {
  const { canonicalUri, shared } = options
  const jwt = as.verifiesJwt ? withIssuerPolicy(createJwtVerifier(as, { canonicalUri }), as) : undefined
  let ownStore: StateStore | undefined
  let introspector: TokenVerifier | undefined
  if (as.introspection !== undefined) {
    ownStore = shared === undefined ? createMemoryStore({ maxEntries: as.introspection.cacheSize }) : undefined
    const store = shared?.store ?? (ownStore as StateStore)
    introspector = withIssuerPolicy(createIntrospectionVerifier(as, { canonicalUri, store }), as)
  }
  const parts = [jwt, introspector].filter((v): v is TokenVerifier => v !== undefined)
  return {
    as,
    canonicalUri,
    redis: introspector === undefined ? undefined : shared?.config,
    jwt,
    introspector,
    async warmUp() {
      return (await Promise.all(parts.map((v) => v.warmUp?.() ?? true))).every(Boolean)
    },
    ready: () => parts.every((v) => v.ready?.() ?? true),
    async close() {
      await Promise.all(parts.map((v) => v.close?.()))
      await ownStore?.close()
    },
  }
}

/** Whether `running` was built from exactly these settings (secrets compared by value, in memory only). */
export function builtFrom(running: IssuerVerifier, as: ResolvedAuthorizationServer, canonicalUri: string, redis: RedisConfig | undefined): boolean {
  if (running.canonicalUri !== canonicalUri) return false
  if (as.introspection !== undefined && !sameSettings(running.redis, redis)) return false
  return sameSettings(running.as, as)
}

export function sameSettings(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(comparable(a), comparable(b))
}

/** Secrets and URLs keep their value in private fields, which a structural comparison does not see. */
function comparable(value: unknown): unknown {
  if (value instanceof Secret) return { secret: value.reveal() }
  if (value instanceof URL) return { url: value.href }
  if (Array.isArray(value)) return value.map(comparable)
  if (value !== null && typeof value === 'object' && !(value instanceof Set) && !(value instanceof Map)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, comparable(v)]))
  }
  return value
}
