import { z } from 'zod'
import { duration, onOff } from '../common/units.js'
import { ALGORITHMS, type AlgorithmName } from './algorithms.js'
import { MAX_REQUESTS, rateSchema } from './rate.js'
import type { RedisAddress } from './redis-store.js'

/**
 * `host:port` (nginx-mcp-resource's `MCP_RATELIMIT_REDIS`), or `redis://[user@]host:port[/db]`
 * (`rediss://` for TLS). A password in the URL is refused: it would sit in the environment and in
 * process listings; it belongs in `MCP_RATELIMIT_REDIS_PASSWORD_FILE`.
 */
const redisAddress = z.string().transform((value, ctx): RedisAddress => {
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value)
  let url: URL
  try {
    url = new URL(hasScheme ? value : `redis://${value}`)
  } catch {
    url = new URL('invalid://')
  }
  const problem =
    url.protocol !== 'redis:' && url.protocol !== 'rediss:'
      ? `expected host:port or a redis:// URL like 127.0.0.1:6379 (got "${hasScheme ? url.protocol : value}")`
      : url.hostname === ''
        ? 'expected a host'
        : url.password !== ''
          ? 'a password in the URL is refused: put it in a file and set MCP_RATELIMIT_REDIS_PASSWORD_FILE'
          : !hasScheme && url.port === ''
            ? `expected host:port like 127.0.0.1:6379 (got "${value}")`
            : !/^\/?(\d+)?$/.test(url.pathname)
              ? 'the URL path must be a database number like /0'
              : undefined
  if (problem !== undefined) {
    ctx.addIssue({ code: 'custom', message: problem })
    return z.NEVER
  }
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? 6379 : Number(url.port),
    db: url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0,
    tls: url.protocol === 'rediss:',
    username: url.username === '' ? undefined : decodeURIComponent(url.username),
  }
})

const burst = z.coerce.number().int().min(0).max(MAX_REQUESTS)

const toolLimit = z.union([
  rateSchema.transform((rate) => ({ rate, burst: 0 })),
  z.strictObject({
    rate: rateSchema.describe('The rate, like `5r/m`.'),
    burst: burst.default(0).describe('Headroom above the rate, as for the principal-wide rate.'),
  }),
])

/**
 * `rateLimit:` in the file. Names, values and defaults of the `MCP_RATELIMIT_*` variables are
 * nginx-mcp-resource's; see docs/rate-limiting.md for what each algorithm does with them.
 */
export const rateLimitSchema = z
  // Strict: a misspelt key (`burts: 5`) is reported, not silently dropped.
  .strictObject({
    enabled: onOff
      .default(false)
      .describe(
        'Per-principal rate limiting, after authentication (a bad token is a 401, never a 429). ' +
          'Env: `MCP_RATELIMIT_ENABLED` (`on`/`off`).',
      ),
    rate: rateSchema
      .optional()
      .describe(
        'Requests per principal (issuer + `sub`): `100r/m`, `10r/s`, `1000r/h`, `50r/30s`. Required when ' +
          'enabled, unless only `tools` are limited. Env: `MCP_RATELIMIT_RATE`.',
      ),
    burst: burst
      .default(0)
      .describe(
        'Headroom above the rate: extra requests per window (fixed_window), extra bucket capacity ' +
          '(token_bucket), or requests allowed at once beyond the first (gcra). Env: `MCP_RATELIMIT_BURST`.',
      ),
    algorithm: z
      .enum(['fixed_window', 'token_bucket', 'gcra'] satisfies AlgorithmName[], {
        message: `expected one of ${ALGORITHMS.join(', ')} (sliding_window and custom scripts are not supported)`,
      })
      .default('fixed_window')
      .describe('`fixed_window`, `token_bucket` or `gcra`. Env: `MCP_RATELIMIT_ALGO`.'),
    onError: z
      .enum(['deny', 'allow'], { message: "expected 'deny' or 'allow'" })
      .default('deny')
      .describe(
        'When Redis cannot be reached or answer in time: `deny` answers 503 with `Retry-After` ' +
          '(an outage never lifts the limit); `allow` lets the request through. A Redis error reply ' +
          '(bad password, wrong key type) always denies. Env: `MCP_RATELIMIT_ON_ERROR`.',
      ),
    redis: redisAddress
      .optional()
      .describe(
        'Redis holding the counters, shared by every gateway process: `host:port` or ' +
          '`redis://[user@]host:port[/db]` (`rediss://` for TLS). Unset: counters live in this ' +
          'process only. Env: `MCP_RATELIMIT_REDIS`.',
      ),
    redisPasswordFile: z
      .string()
      .min(1)
      .optional()
      .describe('File holding the Redis password (read at start, never logged). Env: `MCP_RATELIMIT_REDIS_PASSWORD_FILE`.'),
    redisTimeout: duration
      .prefault('1s')
      .describe('Longest wait for Redis per request; past it `onError` decides. Env: `MCP_RATELIMIT_REDIS_TIMEOUT`.'),
    prefix: z
      .string()
      .regex(/^[^{}\s]+$/, 'must not contain braces or spaces (braces are Redis hash tags)')
      .default('mcp-ratelimit')
      .describe('Prefix of every Redis key, to share one Redis between deployments. Env: `MCP_RATELIMIT_PREFIX`.'),
    missingSubject: z
      .enum(['reject', 'client_id'], { message: "expected 'reject' or 'client_id'" })
      .default('reject')
      .describe(
        'A token without `sub`: `reject` answers 401 `invalid_token` (as nginx-mcp-resource, so no ' +
          'token is unlimited); `client_id` counts it under its client id (`client_id`, `azp`, `cid`, ' +
          '`appid`), shared by every such token of that client. Env: `MCP_RATELIMIT_MISSING_SUBJECT`.',
      ),
    tools: z
      .record(z.string().min(1), toolLimit)
      .default({})
      .describe(
        'Per-tool limits on `tools/call`, per principal, on top of `rate`: `{ delete_repo: 5r/m }` or ' +
          '`{ delete_repo: { rate: 5r/m, burst: 2 } }`. Each call in a batch counts.',
      ),
    perClient: toolLimit
      .optional()
      .describe(
        "Requests per OAuth client (the token's `client_id`, `azp`, `cid` or `appid`, within its issuer), shared by " +
          'every user of that client: `1000r/m` or `{ rate: 1000r/m, burst: 50 }`. A token without a client id is not counted here.',
      ),
    methods: z
      .record(z.string().min(1), toolLimit)
      .default({})
      .describe(
        'Per-method limits, per principal, on top of `rate`: `{ resources/read: 500r/m, tools/call: 100r/m }`. ' +
          'Each message of that method in a batch counts.',
      ),
  })
  .superRefine((rateLimit, ctx) => {
    const other = Object.keys(rateLimit.tools).length + Object.keys(rateLimit.methods).length + (rateLimit.perClient === undefined ? 0 : 1)
    if (rateLimit.enabled && rateLimit.rate === undefined && other === 0) {
      ctx.addIssue({ code: 'custom', path: ['rate'], message: 'is required when MCP_RATELIMIT_ENABLED=on (for example 100r/m)' })
    }
    if (rateLimit.redisPasswordFile !== undefined && rateLimit.redis === undefined) {
      ctx.addIssue({ code: 'custom', path: ['redisPasswordFile'], message: 'is set but MCP_RATELIMIT_REDIS is not' })
    }
  })

export type RateLimitInput = z.input<typeof rateLimitSchema>
export type RateLimitOutput = z.output<typeof rateLimitSchema>
