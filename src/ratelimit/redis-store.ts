import { createRedisClient } from '../state/redis-client.js'
import type { RedisConfig } from '../state/redis-config.js'
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
  /** `commandTimeout`: the longest wait for a connection or a verdict; past it the request follows `onError`. */
  redis: RedisConfig
  /** Tests only: a fake clock sent to the script instead of Redis TIME. */
  now?: () => number
}

/**
 * Counters in Redis, shared by every gateway process that points at it. The connection fails
 * fast instead of queueing (no offline queue, no retries of a sent command, a command timeout),
 * because a request waiting on a dead Redis is worse than a prompt `onError` decision.
 */
export function createRedisStore(options: RedisStoreOptions): RateLimitStore {
  const { client: redis, where, observe, close } = createRedisClient(options.redis, { role: 'rate-limit Redis', failFast: true })
  const command = `rateLimit_${options.algorithm}`
  redis.defineCommand(command, { lua: SCRIPTS[options.algorithm] })
  const run = (redis as unknown as Record<string, (...args: (string | number)[]) => Promise<unknown>>)[command] as (
    ...args: (string | number)[]
  ) => Promise<unknown>

  return {
    kind: 'redis',
    algorithm: options.algorithm,
    async consume(checks: readonly LimitCheck[]): Promise<Verdict[]> {
      const args: (string | number)[] = [checks.length, ...checks.map((c) => c.key), options.now?.() ?? '']
      for (const { limit, cost } of checks) args.push(limit.requests, limit.periodMs, limit.burst, cost)
      let reply: unknown
      try {
        reply = await observe(run.apply(redis, args))
      } catch (error) {
        // A Redis error reply (script fault, NOAUTH, WRONGTYPE) is a setup fault, not an outage:
        // it is rethrown as is so the limiter fails closed whatever `onError` says.
        if ((error as Error).name === 'ReplyError') throw error
        throw new StoreUnavailable(`rate-limit Redis at ${where} unavailable`, { cause: error })
      }
      return parseReply(reply, checks.length)
    },
    close,
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

