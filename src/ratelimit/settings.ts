import { readSecretFile, type Secret } from '../common/secret-file.js'
import type { AlgorithmName } from './algorithms.js'
import { formatRate, type Limit } from './rate.js'
import type { RedisConfig } from '../state/redis-config.js'
import type { RedisAddress } from './redis-store.js'
import type { RateLimitOutput } from './schema.js'

/** The `rateLimit` part of the runtime `Config`. */
export interface RateLimitSettings {
  readonly enabled: boolean
  readonly algorithm: AlgorithmName
  /** The per-principal limit; undefined when only tools are limited. */
  readonly limit: Limit | undefined
  readonly tools: ReadonlyMap<string, Limit>
  /** Per JSON-RPC method, per principal. */
  readonly methods: ReadonlyMap<string, Limit>
  /** Per OAuth client, across its principals. */
  readonly perClient: Limit | undefined
  readonly onError: 'deny' | 'allow'
  readonly missingSubject: 'reject' | 'client_id'
  readonly prefix: string
  readonly redis: RedisAddress | undefined
  readonly redisPassword: Secret | undefined
  readonly redisTimeoutMs: number
}

/**
 * Cross-field checks and the password file. Problems are pushed with the name of the variable or
 * file key (`name`), never with file contents.
 */
export function normalizeRateLimit(
  raw: RateLimitOutput,
  name: (key: string) => string,
  problems: string[],
  notices: string[],
  workers: number,
  strict = false,
  sharedRedis = false,
): RateLimitSettings {
  let redisPassword: Secret | undefined
  if (raw.enabled && raw.redisPasswordFile !== undefined) {
    const read = readSecretFile(raw.redisPasswordFile, name('rateLimit.redisPasswordFile'), strict)
    problems.push(...read.problems)
    notices.push(...read.notices)
    redisPassword = read.secret
  }
  const settings: RateLimitSettings = {
    enabled: raw.enabled,
    algorithm: raw.algorithm as AlgorithmName,
    limit: raw.rate === undefined ? undefined : { ...raw.rate, burst: raw.burst },
    tools: new Map(Object.entries(raw.tools).map(([tool, t]) => [tool, { ...t.rate, burst: t.burst }])),
    methods: new Map(Object.entries(raw.methods).map(([method, m]) => [method, { ...m.rate, burst: m.burst }])),
    perClient: raw.perClient === undefined ? undefined : { ...raw.perClient.rate, burst: raw.perClient.burst },
    onError: raw.onError,
    missingSubject: raw.missingSubject,
    prefix: raw.prefix,
    redis: raw.redis,
    redisPassword,
    redisTimeoutMs: raw.redisTimeout,
  }
  if (settings.enabled && settings.redis === undefined && !sharedRedis && workers > 1) {
    notices.push(
      `rate limits are counted per worker process (${workers} workers, neither MCP_RATELIMIT_REDIS nor MCP_REDIS_URL): a principal ` +
        `can get up to ${workers} times ${settings.limit === undefined ? 'each limit' : formatRate(settings.limit)}`,
    )
  }
  return settings
}

/** The rate limiter's own address (nginx-mcp-resource's `MCP_RATELIMIT_REDIS`) in the shared client's shape. */
export function redisConfigOf(address: RedisAddress, password: Secret | undefined, timeoutMs: number): RedisConfig {
  const { host, port, db, tls } = address
  return {
    url: `${tls ? 'rediss' : 'redis'}://${host.includes(':') ? `[${host}]` : host}:${port}/${db}`,
    username: address.username,
    password,
    // Counter keys carry `rateLimit.prefix` themselves.
    keyPrefix: '',
    commandTimeout: timeoutMs,
  }
}
