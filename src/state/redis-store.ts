import { Redis } from 'ioredis'
import { createOutageNotices } from '../observability/outage-notices.js'
import type { RedisConfig } from './redis-config.js'
import type { StateStore } from './store.js'

/**
 * The shared store: every gateway pointed at one Redis reads the entries the others wrote. Each
 * command is bounded by `commandTimeout`, and while the connection is lost commands reject at once,
 * so a Redis outage costs a cache miss, not a stalled request.
 */
export function createRedisStore(config: RedisConfig): StateStore {
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
  // Without a listener ioredis prints every connection error itself; the message names the host and
  // errno, never the password. Logged once per outage, closed or stalled alike.
  const outage = createOutageNotices(`redis at ${config.url}`)
  client.on('error', (error: Error) => outage.failed(error.message))
  client.on('ready', () => outage.answered())
  /** A hung Redis (connected, never replying) emits no 'error': a command's timeout is the outage. */
  const observe = async <T>(command: Promise<T>): Promise<T> => {
    try {
      const result = await command
      outage.answered()
      return result
    } catch (error) {
      if ((error as Error).name !== 'ReplyError') outage.failed((error as Error).message)
      throw error
    }
  }

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
      return (await observe(client.get(key))) ?? undefined
    },
    async set(key, value, ttlMs) {
      if (ttlMs <= 0) return
      available()
      await observe(client.set(key, value, 'PX', Math.max(1, Math.round(ttlMs))))
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
