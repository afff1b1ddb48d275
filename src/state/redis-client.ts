import { Redis } from 'ioredis'
import { events } from '../observability/events.js'
import type { RedisConfig } from './redis-config.js'

/** Connection errors repeat while Redis is down; one notice per this many milliseconds is enough. */
const NOTICE_INTERVAL_MS = 30_000

/**
 * The one way the gateway connects to the shared Redis (`redis` section, `MCP_REDIS_URL`): the
 * introspection cache, revocations and the failed-authentication lockout all use clients made
 * here. Each command is bounded by `commandTimeout`; the client reconnects with a capped backoff
 * for as long as the gateway runs; connection errors become throttled notices (the message names
 * the host and errno, never the password).
 *
 * `keyPrefix: false` leaves keys unprefixed (a subscriber: channels are never prefixed by ioredis,
 * so callers prefix them themselves).
 */
export function createRedisClient(config: RedisConfig, options: { keyPrefix?: boolean; role?: string } = {}): Redis {
  const client = new Redis(config.url, {
    ...(config.username === undefined ? {} : { username: config.username }),
    ...(config.password === undefined ? {} : { password: config.password.reveal() }),
    ...(options.keyPrefix === false ? {} : { keyPrefix: config.keyPrefix }),
    commandTimeout: config.commandTimeout,
    connectTimeout: Math.max(config.commandTimeout, 2_000),
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => Math.min(attempt * 200, 5_000),
  })
  let lastNotice = 0
  const role = options.role === undefined ? '' : ` (${options.role})`
  // Without a listener ioredis prints every connection error itself.
  client.on('error', (error: Error) => {
    const now = Date.now()
    if (now - lastNotice < NOTICE_INTERVAL_MS || !events.notice.hasSubscribers) return
    lastNotice = now
    events.notice.publish({ level: 'warn', message: `redis at ${config.url}${role}: ${error.message}` })
  })
  return client
}

/** Whether a client can take a command now (while reconnecting, commands would wait or fail). */
export function isRedisConnected(client: Redis): boolean {
  return client.status === 'ready'
}

/** Quits politely, or drops the connection when Redis is not there to answer. */
export async function closeRedisClient(client: Redis): Promise<void> {
  try {
    await Promise.race([client.quit(), new Promise((resolve) => setTimeout(resolve, 500).unref())])
  } catch {
    // Not connected: nothing to say goodbye to.
  } finally {
    client.disconnect()
  }
}
