import { createRedisClient } from './redis-client.js'
import type { RedisConfig } from './redis-config.js'
import type { StateStore } from './store.js'

/**
 * The shared store: every gateway pointed at one Redis reads the entries the others wrote. Each
 * command is bounded by `commandTimeout`, and while the connection is lost commands reject at once,
 * so a Redis outage costs a cache miss, not a stalled request.
 */
export function createRedisStore(config: RedisConfig): StateStore {
  const client = createRedisClient(config)

  // While a lost connection is being re-established, fail at once: waiting out `commandTimeout`
  // would add that delay to every request during an outage. The first connection is waited for.
  const available = () => {
    if (client.status === 'reconnecting' || client.status === 'close' || client.status === 'end') {
      throw new Error(`redis at ${config.url} is not connected`)
    }
  }

  return {
    async get(key) {
      available()
      return (await client.get(key)) ?? undefined
    },
    async set(key, value, ttlMs) {
      if (ttlMs <= 0) return
      available()
      await client.set(key, value, 'PX', Math.max(1, Math.round(ttlMs)))
    },
    async close() {
      try {
        await client.quit()
      } catch {
        client.disconnect()
      }
    },
  }
}
