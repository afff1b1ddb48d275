import { Redis } from 'ioredis'
import { events } from '../observability/events.js'
import type { RedisConfig } from './redis-config.js'
import type { ClaimingStore } from './store.js'

/** Connection errors repeat while Redis is down; one notice per this many milliseconds is enough. */
const NOTICE_INTERVAL_MS = 30_000

/**
 * The shared store: every gateway pointed at one Redis reads the entries the others wrote. Each
 * command is bounded by `commandTimeout`, and while the connection is lost commands reject at once,
 * so a Redis outage costs a cache miss, not a stalled request.
 */
export function createRedisStore(config: RedisConfig): ClaimingStore {
  const client = new Redis(config.url, {
    ...(config.username === undefined ? {} : { username: config.username }),
    ...(config.password === undefined ? {} : { password: config.password.reveal() }),
    keyPrefix: config.keyPrefix,
    commandTimeout: config.commandTimeout,
    connectTimeout: Math.max(config.commandTimeout, 2_000),
    maxRetriesPerRequest: 1,
    // Reconnect with a capped backoff for as long as the gateway runs.
    retryStrategy: (attempt) => Math.min(attempt * 200, 5_000),
  })
  let lastNotice = 0
  // Without a listener ioredis prints every connection error itself; the message names the host and
  // errno, never the password.
  client.on('error', (error: Error) => {
    const now = Date.now()
    if (now - lastNotice < NOTICE_INTERVAL_MS || !events.notice.hasSubscribers) return
    lastNotice = now
    events.notice.publish({ level: 'warn', message: `redis at ${config.url}: ${error.message}` })
  })

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
    async setIfAbsent(key, value, ttlMs) {
      available()
      // One SET NX PX: of two replicas that see one key at once, exactly one gets "OK".
      return (await client.set(key, value, 'PX', Math.max(1, Math.round(ttlMs)), 'NX')) === 'OK'
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
