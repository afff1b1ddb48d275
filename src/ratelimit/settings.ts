import { readFileSync, statSync } from 'node:fs'
import { inspect } from 'node:util'
import type { AlgorithmName } from './algorithms.js'
import { formatRate, type Limit } from './rate.js'
import type { RedisAddress } from './redis-store.js'
import type { RateLimitOutput } from './schema.js'

/**
 * A secret read from a file. The value is reachable only through `reveal()`: logging, inspecting
 * or serializing the configuration shows `[redacted]`.
 */
export class Secret {
  readonly #value: string
  constructor(value: string) {
    this.#value = value
  }
  reveal(): string {
    return this.#value
  }
  toJSON(): string {
    return '[redacted]'
  }
  toString(): string {
    return '[redacted]'
  }
  [inspect.custom](): string {
    return '[redacted]'
  }
}

/** The `rateLimit` part of the runtime `Config`. */
export interface RateLimitSettings {
  readonly enabled: boolean
  readonly algorithm: AlgorithmName
  /** The per-principal limit; undefined when only tools are limited. */
  readonly limit: Limit | undefined
  readonly tools: ReadonlyMap<string, Limit>
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
): RateLimitSettings {
  let redisPassword: Secret | undefined
  if (raw.enabled && raw.redisPasswordFile !== undefined) {
    redisPassword = readPassword(raw.redisPasswordFile, name('rateLimit.redisPasswordFile'), problems, notices)
  }
  const settings: RateLimitSettings = {
    enabled: raw.enabled,
    algorithm: raw.algorithm as AlgorithmName,
    limit: raw.rate === undefined ? undefined : { ...raw.rate, burst: raw.burst },
    tools: new Map(Object.entries(raw.tools).map(([tool, t]) => [tool, { ...t.rate, burst: t.burst }])),
    onError: raw.onError,
    missingSubject: raw.missingSubject,
    prefix: raw.prefix,
    redis: raw.redis,
    redisPassword,
    redisTimeoutMs: raw.redisTimeout,
  }
  if (settings.enabled && settings.redis === undefined && workers > 1) {
    notices.push(
      `rate limits are counted per worker process (${workers} workers, no MCP_RATELIMIT_REDIS): a principal ` +
        `can get up to ${workers} times ${settings.limit === undefined ? 'each limit' : formatRate(settings.limit)}`,
    )
  }
  return settings
}

function readPassword(file: string, variable: string, problems: string[], notices: string[]): Secret | undefined {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    problems.push(`${variable}=${file} is not readable (${(error as NodeJS.ErrnoException).code ?? 'error'})`)
    return undefined
  }
  // Files written with `echo` end in a newline that is not part of the password.
  const password = text.replace(/\r?\n$/, '')
  if (password === '') {
    problems.push(`${variable}=${file} is empty`)
    return undefined
  }
  if ((statSync(file).mode & 0o077) !== 0) {
    notices.push(`${variable}=${file} is readable by group or others; chmod 600 it`)
  }
  return new Secret(password)
}
