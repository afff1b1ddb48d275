import { hash } from 'node:crypto'
import { InvalidToken } from '../errors.js'
import { events, type RevocationEvent } from '../observability/events.js'
import { createExpiringSet, type ExpiringSet } from '../state/expiring-set.js'
import type { RedisConfig } from '../state/redis-config.js'
import type { Principal } from '../token/principal.js'
import { TokenCache } from '../common/token-cache.js'

/** What a revocation names: one token id, every token of a subject or of a client, or one token. */
export type RevocationKind = RevocationEvent['kind'] & string

/**
 * A revocation's id: its kind and a SHA-256 of what it names, so neither Redis, the listing nor the
 * audit trail ever holds a token or a claim value. A `token` revocation's hash is the one the token
 * caches use (src/token/verified-cache.ts), so a cached entry is found by its key.
 */
export function revocationId(kind: 'jti' | 'client_id', value: string): string
export function revocationId(kind: 'sub', value: { iss: string; sub: string }): string
export function revocationId(kind: 'token', tokenHash: string): string
export function revocationId(kind: RevocationKind, value: string | { iss: string; sub: string }): string {
  if (kind === 'token') return `token:${value as string}`
  const material = typeof value === 'string' ? value : `${value.iss}\n${value.sub}`
  return `${kind}:${hash('sha256', material, 'base64url')}`
}

export function revocationKind(id: string): RevocationKind | undefined {
  const kind = id.slice(0, id.indexOf(':'))
  return kind === 'jti' || kind === 'sub' || kind === 'client_id' || kind === 'token' ? kind : undefined
}

/** The ids a token's principal answers to (at most four). */
function idsOf(principal: Principal, tokenHash: string): string[] {
  const ids = [revocationId('token', tokenHash)]
  const jti = principal.claims.jti
  if (typeof jti === 'string' && jti !== '') ids.push(revocationId('jti', jti))
  if (principal.subject !== undefined && principal.subject !== '') ids.push(revocationId('sub', { iss: principal.issuer, sub: principal.subject }))
  if (principal.clientId !== undefined && principal.clientId !== '') ids.push(revocationId('client_id', principal.clientId))
  return ids
}

export interface Revocations {
  /**
   * Throws 401 `invalid_token` "The token has been revoked" when a revocation names this token,
   * its `jti`, its subject or its client. With no revocation held it costs one comparison; else the
   * principal's ids are computed once per principal object (the token caches hand out the same one)
   * and looked up in a map.
   */
  check(principal: Principal, token: string): void
  /** Calls `end` when a revocation naming this token arrives (an open stream); returns the unwatch. */
  watch(principal: Principal, token: string, end: () => void): () => void
  /** Hears every revocation id as it arrives (here or from another replica): the caches purge. */
  onRevoked(listener: (matches: (principal: Principal, tokenHash: string) => boolean) => void): void
  readonly set: ExpiringSet
  close(): Promise<void>
}

export interface RevocationsOptions {
  redis?: RedisConfig | undefined
  /** Most revocations held per process. */
  maxEntries?: number
}

const DEFAULT_MAX_ENTRIES = 100_000

export function createRevocations(options: RevocationsOptions = {}): Revocations {
  const set = createExpiringSet({ name: 'revocations', maxMembers: options.maxEntries ?? DEFAULT_MAX_ENTRIES, redis: options.redis })
  const known = new WeakMap<Principal, string[]>()
  const idsByHash = (principal: Principal, tokenHash: () => string): string[] => {
    let found = known.get(principal)
    if (found === undefined) {
      found = idsOf(principal, tokenHash())
      known.set(principal, found)
    }
    return found
  }
  const ids = (principal: Principal, token: string) => idsByHash(principal, () => TokenCache.key(token))
  const watchers = new Set<{ ids: readonly string[]; end: () => void }>()
  const purgers: ((matches: (principal: Principal, tokenHash: string) => boolean) => void)[] = []
  // Revocations arriving together (a replica reading the whole set) purge the caches in one pass.
  let pending: Set<string> | undefined
  const purge = () => {
    const revoked = pending as Set<string>
    pending = undefined
    const matches = (principal: Principal, tokenHash: string) => idsByHash(principal, () => tokenHash).some((id) => revoked.has(id))
    for (const purger of purgers) purger(matches)
  }
  set.onAdd((id) => {
    for (const watcher of watchers) if (watcher.ids.includes(id)) watcher.end()
    if (purgers.length === 0) return
    if (pending === undefined) {
      pending = new Set()
      setImmediate(purge)
    }
    pending.add(id)
  })
  return {
    set,
    check(principal, token) {
      if (set.size === 0) return
      const now = Date.now()
      for (const id of ids(principal, token)) {
        if (set.until(id, now) !== undefined) throw new InvalidToken('revoked', 'The token has been revoked')
      }
    },
    watch(principal, token, end) {
      const watcher = { ids: ids(principal, token), end }
      watchers.add(watcher)
      return () => watchers.delete(watcher)
    },
    onRevoked(listener) {
      purgers.push(listener)
    },
    close: () => set.close(),
  }
}

export function publishRevocation(event: RevocationEvent): void {
  if (events.revocation.hasSubscribers) events.revocation.publish(event)
}
