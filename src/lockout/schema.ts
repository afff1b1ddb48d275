import { isIP } from 'node:net'
import { z } from 'zod'
import { duration, list } from '../common/units.js'

const COUNT_PER = /^(\d+)\/(.+)$/

/** `5/5m`: at most 5 failures per 5 minutes. */
const failureLimit = z.string().transform((value, ctx) => {
  const match = COUNT_PER.exec(value.trim())
  const failures = match === null ? NaN : Number(match[1])
  const period = match === null ? undefined : duration.safeParse(match[2])
  if (match === null || !(failures >= 1 && failures <= 1_000_000) || period?.success !== true || period.data < 1000) {
    ctx.addIssue({ code: 'custom', message: `expected failures per period like 5/5m, 10/1h (got "${value}")` })
    return z.NEVER
  }
  return { failures, periodMs: period.data }
})

/** `10.0.0.0/8`, `::1/128`, or a single address. */
const cidr = z.string().transform((value, ctx) => {
  const [address = '', bits] = value.split('/')
  const family = isIP(address)
  const max = family === 6 ? 128 : 32
  const prefix = bits === undefined ? max : Number(bits)
  if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > max) {
    ctx.addIssue({ code: 'custom', message: `expected an address or CIDR like 10.0.0.0/8 or ::1 (got "${value}")` })
    return z.NEVER
  }
  return { address, prefix, family: family === 6 ? ('ipv6' as const) : ('ipv4' as const) }
})

/** `authFailures:` in the file (docs/security.md "Failed-authentication lockout"). */
export const authFailuresSchema = z
  .strictObject({
    limit: failureLimit
      .optional()
      .describe(
        'Refused tokens per client address before it is blocked: `5/5m`. Unset: no lockout. Counted across ' +
          'replicas through `redis` when it is set. Env: `MCP_AUTH_FAILURE_LIMIT`.',
      ),
    block: duration
      .prefault('15m')
      .describe(
        'How long a blocked address gets 429 with `Retry-After`, before any token verification. Env: `MCP_AUTH_FAILURE_BLOCK`.',
      ),
  })
  .prefault({})

/** `trustedProxies:` the peers whose `X-Forwarded-For` / `Forwarded` name the client. */
export const trustedProxiesSchema = list
  .pipe(z.array(cidr))
  .default([])
  .describe(
    'Addresses or CIDRs of proxies in front of the gateway; only from them is the client address read from ' +
      '`Forwarded` (RFC 7239) or `X-Forwarded-For`. Used by the failed-authentication lockout. Env: `MCP_TRUSTED_PROXIES`.',
  )

export type AuthFailuresSettings = z.output<typeof authFailuresSchema>
export type TrustedProxy = z.output<typeof trustedProxiesSchema>[number]
