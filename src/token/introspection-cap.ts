/**
 * How many calls per second the gateway may make to an introspection endpoint, per client address
 * and in total. Every distinct unknown token costs one call (RFC 7662 §4 warns the endpoint learns
 * each token sent to it), so without a cap a flood of random opaque tokens is relayed to the
 * authorization server one call each. Token buckets in memory: the cap is per gateway process.
 */
export interface IntrospectionCapOptions {
  /** Calls per second from one client address; 0 turns this cap off. */
  perClient: number
  /** Calls per second from every client together; 0 turns this cap off. */
  total: number
  /** Milliseconds (tests). Default `Date.now`. */
  now?: () => number
}

export interface IntrospectionCap {
  /**
   * Takes one call from the client's bucket and the total one. Returns `undefined` when the call
   * may go, else the whole seconds until one may (for `Retry-After`); a refused call takes nothing.
   */
  take(clientAddress: string | undefined): number | undefined
}

interface Bucket {
  tokens: number
  at: number
}

/** Client buckets kept before the full (idle) ones are dropped. */
const MAX_CLIENTS = 10_000

export function createIntrospectionCap(options: IntrospectionCapOptions): IntrospectionCap {
  const now = options.now ?? Date.now
  const clients = new Map<string, Bucket>()
  // A bucket holds one second's worth: a burst of `rate` calls, then `rate` per second.
  const total: Bucket = { tokens: options.total, at: now() }

  const refill = (bucket: Bucket, rate: number, t: number) => {
    bucket.tokens = Math.min(rate, bucket.tokens + ((t - bucket.at) / 1000) * rate)
    bucket.at = t
  }
  const waitSeconds = (bucket: Bucket, rate: number) => Math.max(1, Math.ceil((1 - bucket.tokens) / rate))

  function clientBucket(address: string, t: number): Bucket {
    let bucket = clients.get(address)
    if (bucket === undefined) {
      if (clients.size >= MAX_CLIENTS) {
        for (const [key, b] of clients) {
          refill(b, options.perClient, t)
          if (b.tokens >= options.perClient) clients.delete(key)
        }
      }
      bucket = { tokens: options.perClient, at: t }
      clients.set(address, bucket)
    }
    return bucket
  }

  return {
    take(clientAddress) {
      const t = now()
      const client = options.perClient > 0 ? clientBucket(clientAddress ?? '', t) : undefined
      if (client !== undefined) {
        refill(client, options.perClient, t)
        if (client.tokens < 1) return waitSeconds(client, options.perClient)
      }
      if (options.total > 0) {
        refill(total, options.total, t)
        if (total.tokens < 1) return waitSeconds(total, options.total)
        total.tokens -= 1
      }
      if (client !== undefined) client.tokens -= 1
      return undefined
    },
  }
}
