import type { Redis } from 'ioredis'
import { events } from '../observability/events.js'
import { closeRedisClient, createRedisClient } from './redis-client.js'
import type { RedisConfig } from './redis-config.js'

/**
 * Members that hold until a moment (revocations, blocked client addresses), read on the request
 * path: every read is a synchronous lookup in this process's copy. Without Redis the copy is all
 * there is (per process). With Redis (`MCP_REDIS_URL`) the set lives in a sorted set scored by each
 * member's end, with the key's own expiry at the last end, and every change is published: each
 * replica applies it as it arrives, and a replica that starts, or reconnects after an outage,
 * reloads the whole set (docs/scaling.md).
 */
export interface ExpiringSet {
  /** The member's end (ms since the epoch) while it holds; `undefined` otherwise. */
  until(member: string, now?: number): number | undefined
  /** Members held here (some may have ended; they go on the next lookup). */
  readonly size: number
  /** Members that still hold, soonest end first. */
  entries(now?: number): { member: string; until: number }[]
  /**
   * Adds (or extends) a member here at once, then everywhere. Rejects with `SharedStateUnavailable`
   * when Redis cannot take it: the member then holds in this process only, until it reloads the set.
   */
  add(member: string, until: number): Promise<void>
  /** Removes a member here and everywhere; resolves whether it was held here. */
  remove(member: string): Promise<boolean>
  /** Hears every member added, here or by another replica. */
  onAdd(listener: (member: string, until: number) => void): void
  /** Whether the shared set has been read at least once (always true without Redis). */
  loaded(): boolean
  close(): Promise<void>
}

/** Redis could not take a change (down, or too slow). */
export class SharedStateUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'SharedStateUnavailable'
  }
}

/**
 * The local copy: a bounded map. Past `maxMembers`, members that have ended go first; only when
 * every member is live does the one ending soonest go (a revocation that is nearly over, never
 * one just added because it happens to be newest).
 */
class Members {
  readonly #ends = new Map<string, number>()

  constructor(readonly maxMembers: number) {}

  until(member: string, now: number): number | undefined {
    const until = this.#ends.get(member)
    if (until === undefined) return undefined
    if (until > now) return until
    this.#ends.delete(member)
    return undefined
  }

  set(member: string, until: number): boolean {
    const current = this.#ends.get(member)
    if (current !== undefined && current >= until) return false
    this.#ends.set(member, until)
    if (this.#ends.size > this.maxMembers) this.#evict(Date.now())
    return true
  }

  #evict(now: number): void {
    let soonest: string | undefined
    let soonestEnd = Infinity
    for (const [member, end] of this.#ends) {
      if (end <= now) this.#ends.delete(member)
      else if (end < soonestEnd) [soonest, soonestEnd] = [member, end]
    }
    if (this.#ends.size > this.maxMembers && soonest !== undefined) this.#ends.delete(soonest)
  }

  delete(member: string): boolean {
    return this.#ends.delete(member)
  }

  entries(now: number): { member: string; until: number }[] {
    const live: { member: string; until: number }[] = []
    for (const [member, until] of this.#ends) {
      if (until > now) live.push({ member, until })
      else this.#ends.delete(member)
    }
    return live.sort((a, b) => a.until - b.until)
  }

  get size(): number {
    return this.#ends.size
  }
}

export interface ExpiringSetOptions {
  /** Names the set: the Redis key and channel (under the configured key prefix). */
  name: string
  /** Most members held in this process. */
  maxMembers: number
  /** Shared through this Redis; `undefined`: this process only. */
  redis?: RedisConfig | undefined
}

export function createExpiringSet(options: ExpiringSetOptions): ExpiringSet {
  const members = new Members(options.maxMembers)
  const listeners: ((member: string, until: number) => void)[] = []
  const notify = (member: string, until: number) => {
    for (const listener of listeners) listener(member, until)
  }
  const added = (member: string, until: number) => {
    if (members.set(member, until)) notify(member, until)
  }
  const local = {
    until: (member: string, now = Date.now()) => members.until(member, now),
    get size() {
      return members.size
    },
    entries: (now = Date.now()) => members.entries(now),
    onAdd(listener: (member: string, until: number) => void) {
      listeners.push(listener)
    },
  }
  if (options.redis === undefined) {
    return {
      until: local.until,
      entries: local.entries,
      onAdd: local.onAdd,
      loaded: () => true,
      get size() {
        return members.size
      },
      async add(member, until) {
        added(member, until)
      },
      async remove(member) {
        return members.delete(member)
      },
      async close() {},
    }
  }
  return shareThroughRedis(options.redis, options.name, members, local, added)
}

/** `{"a": member, "u": until}` adds, `{"r": member}` removes. */
type Change = { a: string; u: number } | { r: string }

/**
 * Adds a member, drops those that ended, sets the key's expiry to the last end, and publishes the
 * change, in one step: a replica that reloads between them cannot miss it. `ZADD GT` keeps the
 * later of two ends.
 */
const ADD_SCRIPT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
redis.call('ZADD', KEYS[1], 'GT', ARGV[1], ARGV[2])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then redis.call('PEXPIREAT', KEYS[1], last[2]) end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1`

function shareThroughRedis(
  config: RedisConfig,
  name: string,
  members: Members,
  local: Pick<ExpiringSet, 'until' | 'entries' | 'onAdd'>,
  added: (member: string, until: number) => void,
): ExpiringSet {
  const key = name
  const channel = `${config.keyPrefix}${name}`
  const client: Redis = createRedisClient(config, { role: name }).client
  const subscriber: Redis = createRedisClient(config, { keyPrefix: false, role: `${name} subscriber` }).client
  let closed = false

  const apply = (text: string) => {
    let change: Change
    try {
      change = JSON.parse(text) as Change
    } catch {
      return
    }
    if ('a' in change && typeof change.a === 'string' && typeof change.u === 'number') added(change.a, change.u)
    else if ('r' in change && typeof change.r === 'string') members.delete(change.r)
  }

  // Read the whole set and merge it with the copy: members added while this process was cut off
  // arrive, and members only this process holds (added during an outage, or lost by a Redis that
  // restarted empty) are written back, so a restart of Redis forgets nothing that a replica still
  // holds. The price: a removal made while a replica was cut off may come back with it.
  let loading: Promise<void> | undefined
  let loadedOnce = false
  const load = () => {
    loading ??= (async () => {
      try {
        const now = Date.now()
        const flat = await client.zrange(key, now, '+inf', 'BYSCORE', 'WITHSCORES')
        const shared = new Set<string>()
        for (let i = 0; i + 1 < flat.length; i += 2) {
          shared.add(flat[i] as string)
          added(flat[i] as string, Number(flat[i + 1]))
        }
        loadedOnce = true
        for (const { member, until } of members.entries(now)) {
          if (!shared.has(member)) await store(member, until)
        }
      } catch (error) {
        if (!closed && events.notice.hasSubscribers) {
          events.notice.publish({ level: 'warn', message: `could not load ${name} from redis at ${config.url}: ${(error as Error).message}` })
        }
      } finally {
        loading = undefined
      }
    })()
    return loading
  }
  subscriber.on('message', (from: string, text: string) => {
    if (from === channel) apply(text)
  })
  // 'ready' comes on the first connection and after every reconnection. The set is read only once
  // the subscription is in place, so a change published meanwhile is either read or heard.
  let subscribed = false
  const tryLoad = () => {
    if (subscribed && client.status === 'ready') void load()
  }
  subscriber.on('ready', () => {
    subscriber.subscribe(channel).then(
      () => {
        subscribed = true
        tryLoad()
      },
      () => {
        // Reported by the client's error notices; tried again on the next 'ready'.
      },
    )
  })
  subscriber.on('close', () => {
    subscribed = false
  })
  client.on('ready', tryLoad)

  const unavailable = (error: unknown) =>
    new SharedStateUnavailable(`redis at ${config.url} did not take the change to ${name}`, { cause: error })
  async function store(member: string, until: number): Promise<void> {
    if (client.status !== 'ready') throw new Error('not connected')
    await client.eval(ADD_SCRIPT, 1, key, until, member, Date.now(), channel, JSON.stringify({ a: member, u: until } satisfies Change))
  }

  return {
    until: local.until,
    entries: local.entries,
    get size() {
      return members.size
    },
    onAdd: local.onAdd,
    loaded: () => loadedOnce,
    async add(member, until) {
      added(member, until)
      try {
        await store(member, until)
      } catch (error) {
        throw unavailable(error)
      }
    },
    async remove(member) {
      const held = members.delete(member)
      try {
        if (client.status !== 'ready') throw new Error('not connected')
        const [[, removed] = []] = (await client.multi().zrem(key, member).publish(channel, JSON.stringify({ r: member } satisfies Change)).exec()) ?? []
        return held || removed === 1
      } catch (error) {
        throw unavailable(error)
      }
    },
    async close() {
      closed = true
      await Promise.all([closeRedisClient(client), closeRedisClient(subscriber)])
    },
  }
}
