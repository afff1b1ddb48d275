import { Redis, type RedisOptions } from 'ioredis'
import { createOutageNotices, type OutageNotices } from '../observability/outage-notices.js'
import type { RedisConfig } from './redis-config.js'

export interface RedisClientOptions {
  /** Names the client in its outage notices (`redis at …`, `rate-limit Redis at …`). */
  readonly role: string
  /**
   * While disconnected, a command fails at once instead of waiting for the connection (the rate
   * limiter's `onError` decides then). Otherwise the first connection is waited for, up to the
   * command timeout, and a lost one is reported by `available`.
   */
  readonly failFast?: boolean
  /** `false` leaves keys unprefixed (a subscriber: ioredis never prefixes channels, callers do). */
  readonly keyPrefix?: boolean
}

export interface RedisClient {
  readonly client: Redis
  /** `host:port`, for messages: never credentials. */
  readonly where: string
  /** One warning per outage, one info line on recovery (docs/rate-limiting.md, docs/scaling.md). */
  readonly outage: OutageNotices
  /** Runs a command, counting a timeout (a hung Redis emits no 'error') as an outage. */
  observe<T>(command: Promise<T>): Promise<T>
  /** Quits politely, then drops the connection if Redis does not answer within half a second. */
  close(): Promise<void>
}

/**
 * The one way the gateway connects to Redis, for every shared-state feature: the settings of the
 * `redis` section (or the rate limiter's own address, resolved into the same shape), a command
 * timeout on every command, a capped reconnect backoff for as long as the gateway runs, and
 * outage notices that name the host and errno, never the password.
 */
export function createRedisClient(config: RedisConfig, options: RedisClientOptions): RedisClient {
  const failFast = options.failFast === true
  const settings: RedisOptions = {
    ...(config.username === undefined ? {} : { username: config.username }),
    ...(config.password === undefined ? {} : { password: config.password.reveal() }),
    ...(config.keyPrefix === '' || options.keyPrefix === false ? {} : { keyPrefix: config.keyPrefix }),
    commandTimeout: config.commandTimeout,
    connectTimeout: failFast ? config.commandTimeout : Math.max(config.commandTimeout, 2_000),
    maxRetriesPerRequest: failFast ? 0 : 1,
    enableOfflineQueue: !failFast,
    retryStrategy: failFast ? (attempt) => Math.min(100 * attempt, 2_000) : (attempt) => Math.min(attempt * 200, 5_000),
    connectionName: 'mcp-resource-gateway',
  }
  const client = new Redis(config.url, settings)
  const { hostname, port } = new URL(config.url)
  const where = `${hostname}:${port === '' ? '6379' : port}`
  const outage = createOutageNotices(`${options.role} at ${where}`)
  // Without a listener ioredis prints every connection error itself.
  client.on('error', (error: Error) => outage.failed(error.message))
  client.on('ready', () => outage.answered())
  return {
    client,
    where,
    outage,
    async observe(command) {
      try {
        const result = await command
        outage.answered()
        return result
      } catch (error) {
        // An error reply (NOAUTH, WRONGTYPE, a script fault) is an answer: Redis is there.
        if ((error as Error).name !== 'ReplyError') outage.failed((error as Error).message)
        throw error
      }
    },
    close: () => closeRedisClient(client),
  }
}

/** Quits politely, or drops the connection when Redis is not there to answer within half a second. */
export async function closeRedisClient(client: Redis): Promise<void> {
  try {
    await Promise.race([client.quit(), new Promise((resolve) => setTimeout(resolve, 500).unref())])
  } catch {
    // Not connected: nothing to say goodbye to.
  } finally {
    client.disconnect()
  }
}
