import { Redis } from 'ioredis'
import { createOutageNotices } from '../observability/outage-notices.js'
import type { AlgorithmName, Verdict } from './algorithms.js'
import { SCRIPTS } from './redis-scripts.js'
import { StoreUnavailable, type LimitCheck, type RateLimitStore } from './store.js'

export interface RedisAddress {
  readonly host: string
  readonly port: number
  readonly db: number
  readonly tls: boolean
  readonly username: string | undefined
}

export interface RedisStoreOptions {
  algorithm: AlgorithmName
  address: RedisAddress
  /** Read from a file by the configuration; never logged, never in an error message. */
  password?: string | undefined
  /** Longest wait for a connection or a verdict; past it the request follows `onError`. */
  timeoutMs: number
  /** Tests only: a fake clock sent to the script instead of Redis TIME. */
  now?: () => number
}

/**
 * Counters in Redis, shared by every gateway process that points at it. The connection fails
 * fast instead of queueing (no offline queue, no retries of a sent command, a command timeout),
 * because a request waiting on a dead Redis is worse than a prompt `onError` decision.
 */
export function createRedisStore(options: RedisStoreOptions): RateLimitStore {
  const { address } = options
  const redis = new Redis({
    host: address.host,
    port: address.port,
    db: address.db,
    username: address.username,
    password: options.password,
    ...(address.tls ? { tls: { servername: address.host } } : {}),
    connectTimeout: options.timeoutMs,
    commandTimeout: options.timeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt) => Math.min(100 * attempt, 2000),
    connectionName: 'mcp-resource-gateway',
  })
  const command = `rateLimit_${options.algorithm}`
  redis.defineCommand(command, { lua: SCRIPTS[options.algorithm] })
  const run = (redis as unknown as Record<string, (...args: (string | number)[]) => Promise<unknown>>)[command] as (
    ...args: (string | number)[]
  ) => Promise<unknown>

  const where = `${address.host}:${address.port}`
  // Once per outage, whether the connection closed or stalled; ioredis messages name the address
  // and the errno, never the password.
  const outage = createOutageNotices(`rate-limit Redis at ${where}`)
  redis.on('error', (error: Error) => outage.failed(error.message))
  redis.on('ready', () => outage.answered())

  return {
    kind: 'redis',
    algorithm: options.algorithm,
    async consume(checks: readonly LimitCheck[]): Promise<Verdict[]> {
      const args: (string | number)[] = [checks.length, ...checks.map((c) => c.key), options.now?.() ?? '']
      for (const { limit, cost } of checks) args.push(limit.requests, limit.periodMs, limit.burst, cost)
      let reply: unknown
      try {
        reply = await run.apply(redis, args)
      } catch (error) {
        // A Redis error reply (script fault, NOAUTH, WRONGTYPE) is a setup fault, not an outage:
        // it is rethrown as is so the limiter fails closed whatever `onError` says.
        if ((error as Error).name === 'ReplyError') throw error
        // A hung Redis (connected, never replying) emits no 'error': the timeout is the outage.
        outage.failed((error as Error).message)
        throw new StoreUnavailable(`rate-limit Redis at ${where} unavailable`, { cause: error })
      }
      outage.answered()
      return parseReply(reply, checks.length)
    },
    async close() {
      try {
        await Promise.race([redis.quit(), new Promise((resolve) => setTimeout(resolve, 500).unref())])
      } catch {
        // Not connected: nothing to say goodbye to.
      } finally {
        redis.disconnect()
      }
    },
  }
}

function parseReply(reply: unknown, count: number): Verdict[] {
  if (!Array.isArray(reply) || reply.length !== count * 5 || reply.some((n) => typeof n !== 'number')) {
    throw new Error('rate-limit script returned an unexpected reply')
  }
  const numbers = reply as number[]
  const verdicts: Verdict[] = []
  for (let i = 0; i < count; i++) {
    const [allowed, limit, remaining, resetMs, retryAfterMs] = numbers.slice(i * 5, i * 5 + 5) as [number, number, number, number, number]
    verdicts.push({ allowed: allowed === 1, limit, remaining, resetMs, retryAfterMs })
  }
  return verdicts
}
