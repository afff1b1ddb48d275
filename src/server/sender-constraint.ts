import type { Config } from '../config/normalize.js'
import { createTrustedPeer } from '../lockout/client-address.js'
import { createNonceSealer } from '../token/dpop-nonce.js'
import { createRedisStore } from '../state/redis-store.js'
import { createMemoryReplayCache, createStoreReplayCache, type ReplayCache } from '../token/replay-cache.js'
import { createSenderConstraint, type SenderConstraint } from '../token/sender-constraint.js'

/**
 * The replay cache as configured: Redis when shared state is configured (a proof replayed against
 * another replica is refused too), otherwise this process's memory.
 */
export function createConfiguredReplayCache(config: Config): ReplayCache {
  return config.redis !== undefined && sharesReplayCache(config)
    ? createStoreReplayCache(createRedisStore(config.redis))
    : createMemoryReplayCache({ maxEntries: config.senderConstraint.replayCacheSize })
}

/**
 * What the replay cache depends on. A reload that leaves it unchanged keeps the cache: a new empty
 * one would accept again every proof seen before the reload.
 */
export function replayCacheIdentity(config: Config): string {
  const redis = config.redis
  return redis === undefined || !sharesReplayCache(config) ? `memory:${config.senderConstraint.replayCacheSize}` : `redis:${redis.url}:${redis.keyPrefix}:${redis.username ?? ''}`
}

/** The binding rule as configured, over `replay` (which the caller owns and closes). */
export function createConfiguredSenderConstraint(config: Config, replay: ReplayCache): SenderConstraint {
  const settings = config.senderConstraint
  // Read once at start with the secret-file rules (config/normalize.ts).
  const key = settings.nonceSecret === undefined ? undefined : Buffer.from(settings.nonceSecret.reveal())
  const nonces = settings.nonce ? createNonceSealer(settings.proofMaxAgeSeconds, key) : undefined
  return createSenderConstraint({
    settings,
    canonicalOrigin: new URL(config.resource.canonicalUri).origin,
    replay,
    nonces,
    isTrustedPeer: createTrustedPeer(config.trustedProxies),
  })
}

/** With DPoP off no proof is checked, so no Redis connection is opened for them. */
function sharesReplayCache(config: Config): boolean {
  return config.redis !== undefined && config.senderConstraint.dpop !== 'off'
}
