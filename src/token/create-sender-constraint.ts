import type { Config } from '../config/normalize.js'
import { createRedisStore } from '../state/redis-store.js'
import { createMemoryReplayCache, createStoreReplayCache } from './replay-cache.js'
import { createSenderConstraint, type SenderConstraint } from './sender-constraint.js'

/**
 * The binding rule as configured. Proof `jti`s go to Redis when shared state is configured, so a
 * proof replayed against another replica is refused too; otherwise each process remembers its own.
 */
export function createConfiguredSenderConstraint(config: Config, options: { shared: boolean } = { shared: true }): SenderConstraint {
  const settings = config.senderConstraint
  const replay =
    options.shared && config.redis !== undefined
      ? createStoreReplayCache(createRedisStore(config.redis))
      : createMemoryReplayCache({ maxEntries: settings.replayCacheSize })
  return createSenderConstraint({ settings, canonicalOrigin: new URL(config.resource.canonicalUri).origin, replay })
}
