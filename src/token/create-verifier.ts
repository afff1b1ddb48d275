import type { TokenCache } from '../common/token-cache.js'
import { events } from '../observability/events.js'
import type { RedisConfig } from '../state/redis-config.js'
import { createRedisStore } from '../state/redis-store.js'
import type { StateStore } from '../state/store.js'
import type { ResolvedAuthorizationServer } from './authorization-server-schema.js'
import { builtFrom, createIssuerVerifier, sameSettings, type IssuerVerifier } from './issuer-verifier.js'
import type { TokenVerifier } from './principal.js'
import { createTokenRouter, type VerifiedEntry } from './router.js'

/** Verified JWTs remembered by default: enough for a busy gateway, a few MB at most. */
const DEFAULT_CACHE_SIZE = 10_000

type SharedStore = { store: StateStore; config: RedisConfig }

/** The parts of the gateway's configuration that verifying tokens needs (src/config composes them). */
export interface VerifierSettings {
  readonly resource: { readonly canonicalUri: string }
  readonly authorizationServers: readonly ResolvedAuthorizationServer[]
  readonly redis?: RedisConfig | undefined
}

/** What a verifier built here is made of, for the reload that builds its successor. */
interface Assembly {
  readonly issuers: ReadonlyMap<string, IssuerVerifier>
  readonly shared: SharedStore | undefined
  readonly cache: TokenCache<VerifiedEntry>
  /** Parts this verifier closes; a successor that keeps one takes it over. */
  readonly owned: Set<IssuerVerifier | StateStore>
}

const assemblies = new WeakMap<TokenVerifier, Assembly>()

/**
 * One verifier per configured issuer, behind the router that picks among them: a JWT goes to the
 * issuer its `iss` names (by signature, or to that issuer's introspection endpoint in
 * `introspect` mode); any other token goes to the one issuer chosen for opaque tokens. Each
 * issuer's own policy (`maxTokenLifetime`, `requiredClaims`, extra scope claims) wraps its
 * verifier, so cached results have passed it too.
 */
export function createVerifier(config: VerifierSettings): TokenVerifier {
  // One Redis connection serves every issuer (keys carry the issuer); memory stores are per issuer.
  const shared = config.redis === undefined ? undefined : { store: createRedisStore(config.redis), config: config.redis }
  const issuers = config.authorizationServers.map((as) =>
    createIssuerVerifier(as, { canonicalUri: config.resource.canonicalUri, shared }),
  )
  return assemble(issuers, shared, new Set([...issuers, ...(shared === undefined ? [] : [shared.store])]), undefined)
}

/**
 * The verifier for a reloaded configuration, built from the running one (SIGHUP):
 * - an issuer whose settings did not change keeps its running verifiers, so its keys, verified
 *   tokens and introspection answers carry over (an authorization server that is down meanwhile
 *   changes nothing for its tokens);
 * - an issuer whose settings changed gets new verifiers, used once their keys load; if they
 *   cannot load while the running ones hold keys, the running ones stay and a warning says so.
 * The running verifier's `close` then closes only what the new one did not take over.
 */
export async function reloadVerifier(running: TokenVerifier, next: VerifierSettings): Promise<TokenVerifier> {
  const old = assemblies.get(running)
  if (old === undefined) {
    const fresh = createVerifier(next)
    await fresh.warmUp?.()
    return fresh
  }
  const owned = new Set<IssuerVerifier | StateStore>()
  const takeOver = (part: IssuerVerifier | StateStore) => {
    old.owned.delete(part)
    owned.add(part)
  }
  let shared: SharedStore | undefined
  if (next.redis !== undefined && old.shared !== undefined && sameSettings(old.shared.config, next.redis)) {
    shared = old.shared
    takeOver(shared.store)
  } else if (next.redis !== undefined) {
    shared = { store: createRedisStore(next.redis), config: next.redis }
    owned.add(shared.store)
  }

  const canonicalUri = next.resource.canonicalUri
  const issuers = await Promise.all(
    next.authorizationServers.map(async (as): Promise<IssuerVerifier> => {
      const previous = old.issuers.get(as.issuer)
      if (previous !== undefined && builtFrom(previous, as, canonicalUri, next.redis)) {
        takeOver(previous)
        return previous
      }
      const built = createIssuerVerifier(as, { canonicalUri, shared })
      if ((await built.warmUp()) || previous === undefined || !previous.ready()) {
        owned.add(built)
        return built
      }
      await built.close()
      events.notice.publish({
        level: 'warn',
        message: `reload: the keys of ${as.issuer} could not be loaded with its new settings; its running settings stay until a reload can load them`,
      })
      takeOver(previous)
      // Its introspection answers may live in the previous Redis: that store stays open with it.
      if (previous.redis !== undefined && old.shared !== undefined && old.shared !== shared) takeOver(old.shared.store)
      return previous
    }),
  )
  return assemble(issuers, shared, owned, old.cache)
}

function assemble(
  issuers: readonly IssuerVerifier[],
  shared: SharedStore | undefined,
  owned: Set<IssuerVerifier | StateStore>,
  previousCache: TokenCache<VerifiedEntry> | undefined,
): TokenVerifier {
  const jwt = new Map<string, TokenVerifier>()
  const introspectors = new Set<TokenVerifier>()
  let opaque: TokenVerifier | undefined
  for (const issuer of issuers) {
    const { as } = issuer
    // One verifier (one key set, one JWKS fetcher) for every issuer string of this server.
    if (issuer.jwt !== undefined) for (const iss of as.acceptedIssuers) jwt.set(iss, issuer.jwt)
    if (issuer.introspector !== undefined) {
      introspectors.add(issuer.introspector)
      // In introspect mode this server's JWTs are introspected too (revocation seen within the max TTL).
      if (!as.verifiesJwt) for (const iss of as.acceptedIssuers) jwt.set(iss, issuer.introspector)
      if (as.introspection?.opaqueTokens === true) opaque = issuer.introspector
    }
  }

  const router = createTokenRouter({ jwt, opaque, uncached: introspectors, cacheSize: DEFAULT_CACHE_SIZE, previousCache })
  const verifier: TokenVerifier = {
    verify: router.verify,
    verifyCached: router.verifyCached,
    // Every issuer is warmed, including an introspector that no route reaches.
    async warmUp() {
      return (await Promise.all(issuers.map((i) => i.warmUp()))).every(Boolean)
    },
    ready: () => issuers.every((i) => i.ready()),
    forget(matches) {
      router.forget?.(matches)
      // An introspector that no route reaches still holds answers of its own.
      for (const issuer of issuers) if (issuer.introspector !== undefined) issuer.introspector.forget?.(matches)
    },
    async close() {
      router.detach()
      const parts = [...owned]
      owned.clear()
      const isStore = (p: IssuerVerifier | StateStore): p is StateStore => !('as' in p)
      await Promise.all(parts.filter((p) => !isStore(p)).map((p) => p.close()))
      await Promise.all(parts.filter(isStore).map((s) => s.close()))
    },
  }
  assemblies.set(verifier, { issuers: new Map(issuers.map((i) => [i.as.issuer, i])), shared, cache: router.cache, owned })
  return verifier
}
