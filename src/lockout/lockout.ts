import type { IncomingMessage } from 'node:http'
import { GatewayError } from '../errors.js'
import { events } from '../observability/events.js'
import { createExpiringSet, type ExpiringSet } from '../state/expiring-set.js'
import { closeRedisClient, createRedisClient } from '../state/redis-client.js'
import type { RedisConfig } from '../state/redis-config.js'
import { createClientAddress } from './client-address.js'
import type { AuthFailuresSettings, TrustedProxy } from './schema.js'

/** 429 before any token work: this address sent too many refused tokens (docs/security.md). */
export class AuthBlocked extends GatewayError {
  constructor(retryAfter: number) {
    super(429, 'auth_blocked', 'Too many failed authentication attempts', undefined, { retryAfter })
  }
}

export interface Lockout {
  /** The client address of a request (trusted proxies honoured). */
  address(req: IncomingMessage): string
  /** Throws `AuthBlocked` while the address is blocked: a map lookup, no I/O. */
  check(address: string): void
  /** A token from this address was refused (401 `invalid_token`). */
  failed(address: string): void
  readonly blocked: ExpiringSet
  close(): Promise<void>
}

export interface LockoutOptions {
  settings: AuthFailuresSettings
  trustedProxies: readonly TrustedProxy[]
  redis?: RedisConfig | undefined
  /** Most addresses counted or blocked per process. */
  maxAddresses?: number
}

const DEFAULT_MAX_ADDRESSES = 100_000

/** Counts a failure in its window; the window starts with the first failure. */
const COUNT_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`

/**
 * Failed-authentication lockout per client address. Failures are counted (in Redis when it is set,
 * so every replica counts toward one limit; in this process when it is not or cannot be reached);
 * the failure that reaches the limit blocks the address for `block` on every replica (a shared
 * expiring set). The request-path check reads only this process's copy of the blocked set.
 */
export function createLockout(options: LockoutOptions): Lockout | undefined {
  const limit = options.settings.limit
  if (limit === undefined) return undefined
  const maxAddresses = options.maxAddresses ?? DEFAULT_MAX_ADDRESSES
  const blocked = createExpiringSet({ name: 'auth-blocked', maxMembers: maxAddresses, redis: options.redis })
  const counter = options.redis === undefined ? undefined : createRedisClient(options.redis, { role: 'auth failures' }).client
  const local = new Map<string, { count: number; resetAt: number }>()
  const address = createClientAddress(options.trustedProxies)

  const countHere = (who: string, now: number): number => {
    let entry = local.get(who)
    if (entry === undefined || entry.resetAt <= now) {
      local.delete(who)
      entry = { count: 0, resetAt: now + limit.periodMs }
      local.set(who, entry)
      if (local.size > maxAddresses) local.delete(local.keys().next().value as string)
    }
    return ++entry.count
  }
  const count = async (who: string, now: number): Promise<number> => {
    if (counter === undefined || counter.status !== 'ready') return countHere(who, now)
    try {
      return Number(await counter.eval(COUNT_SCRIPT, 1, `auth-failures:${who}`, limit.periodMs))
    } catch {
      return countHere(who, now)
    }
  }
  const block = (who: string, now: number) => {
    local.delete(who)
    if (counter !== undefined && counter.status === 'ready') void counter.del(`auth-failures:${who}`).catch(() => {})
    blocked.add(who, now + options.settings.block).catch(() => {
      // Kept in this process; the client's notices say Redis is unavailable.
    })
    if (events.notice.hasSubscribers) {
      events.notice.publish({
        level: 'warn',
        message: `client address ${who} blocked for ${Math.round(options.settings.block / 1000)} s after ${limit.failures} refused tokens`,
      })
    }
  }

  return {
    address,
    blocked,
    check(who) {
      if (blocked.size === 0) return
      const now = Date.now()
      const until = blocked.until(who, now)
      if (until !== undefined) throw new AuthBlocked(Math.max(1, Math.ceil((until - now) / 1000)))
    },
    failed(who) {
      const now = Date.now()
      void count(who, now).then((n) => {
        if (n >= limit.failures && blocked.until(who, now) === undefined) block(who, now)
      })
    },
    async close() {
      await blocked.close()
      if (counter !== undefined) await closeRedisClient(counter)
    },
  }
}
