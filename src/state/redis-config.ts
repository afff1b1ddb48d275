import { z } from 'zod'
import { duration } from '../common/units.js'
import { readSecretFile, Secret } from '../common/secret-file.js'

/** `redis://host:6379/0`, `rediss://...` (TLS), or `host:port` as nginx-mcp-resource writes it. */
const redisUrl = z
  .string()
  .trim()
  .min(1)
  .transform((value, ctx) => {
    const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `redis://${value}`
    try {
      const url = new URL(withScheme)
      if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new Error('scheme')
      if (url.hostname === '') throw new Error('host')
      return url
    } catch {
      // The value may hold a password: never echo it.
      ctx.addIssue({ code: 'custom', message: 'expected redis://host:port/db, rediss://host:port/db or host:port' })
      return z.NEVER
    }
  })

/** The file's top-level `redis` section. */
export const redisSchema = z.strictObject({
  url: redisUrl
    .optional()
    .describe(
      'Redis holding state shared by several gateways (introspection cache, DPoP replay cache, revocations, lockout, rate limits, exchanged tokens): `redis://host:6379/0`, ' +
        '`rediss://` for TLS, or `host:port`. Unset: each process keeps its own state in memory. Env: `MCP_REDIS_URL`.',
    ),
  passwordFile: z
    .string()
    .min(1)
    .optional()
    .describe('File holding the Redis password (trailing newline stripped; mode 600). Env: `MCP_REDIS_PASSWORD_FILE`.'),
  keyPrefix: z
    .string()
    .default('mcp-gateway:')
    .describe('Prefix of every key the gateway writes, so several deployments can share one Redis.'),
  commandTimeout: duration
    .prefault('500ms')
    .describe('Longest wait for one Redis command; a slower or failed command counts as a cache miss.'),
})

export type RedisSettings = z.output<typeof redisSchema>

/** The resolved `redis` section: the URL without credentials, the password kept apart. */
export interface RedisConfig {
  /** `redis://host:port/db`, no password in it (printable). */
  readonly url: string
  readonly username: string | undefined
  readonly password: Secret | undefined
  readonly keyPrefix: string
  /** Milliseconds. */
  readonly commandTimeout: number
}

export interface RedisResolveContext {
  name(key: string): string
  strict: boolean
  problems: string[]
  notices: string[]
}

/** `undefined` when no Redis is configured; reads the password file and strips it from the URL. */
export function resolveRedisConfig(raw: RedisSettings, ctx: RedisResolveContext): RedisConfig | undefined {
  if (raw.url === undefined) {
    if (raw.passwordFile !== undefined) ctx.notices.push(`${ctx.name('redis.passwordFile')} is ignored: no Redis URL is set (MCP_REDIS_URL)`)
    return undefined
  }
  const url = new URL(raw.url.href)
  let password: Secret | undefined
  if (url.password !== '') {
    const message =
      `${ctx.name('redis.url')} holds a password: anyone who can read the environment or the config sees it; ` +
      'put it in a file and set MCP_REDIS_PASSWORD_FILE'
    if (ctx.strict) ctx.problems.push(`${message} [refused by --strict]`)
    else ctx.notices.push(message)
  }
  if (raw.passwordFile !== undefined) {
    const read = readSecretFile(raw.passwordFile, ctx.name('redis.passwordFile'), ctx.strict)
    ctx.problems.push(...read.problems)
    ctx.notices.push(...read.notices)
    password = read.secret
  } else if (url.password !== '') {
    password = new Secret(decodeURIComponent(url.password))
  }
  const username = url.username === '' ? undefined : decodeURIComponent(url.username)
  url.username = ''
  url.password = ''
  return { url: url.href, username, password, keyPrefix: raw.keyPrefix, commandTimeout: raw.commandTimeout }
}
