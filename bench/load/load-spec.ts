/** What one measured run sends, and what it saw. Shared by the wrk and autocannon drivers. */

export interface LoadRequest {
  readonly method: 'POST'
  /** Path and query, e.g. `/mcp`. */
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
  /**
   * Single-use DPoP proofs (RFC 9449 §4.2) for this entry, one per send as the `DPoP` header; when
   * they run out the entry goes with `DPoP: exhausted`, which the gateway refuses (a failure).
   */
  readonly dpopProofs?: readonly string[]
}

export interface LoadSpec {
  /** Origin only: `http://127.0.0.1:8080`. */
  readonly origin: string
  /** Sent in turn on each connection, round-robin; a fixed set keeps the token cache warm. */
  readonly requests: readonly LoadRequest[]
  readonly connections: number
  readonly durationSeconds: number
  /**
   * Requests per second, sent open-loop at even intervals (`paced-child.ts`); `undefined`: as fast
   * as the connections allow (saturation).
   */
  readonly rate?: number | undefined
}

export interface LoadResult {
  /** Completed responses, any status. */
  readonly responses: number
  /** Responses outside 2xx plus socket errors and timeouts. */
  readonly failures: number
  readonly durationSeconds: number
  readonly requestsPerSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly meanMs: number
  /** CPU seconds the load generator itself used (reported, never charged to a target). */
  readonly loadgenCpuSeconds: number | undefined
  /** All CPU seconds of the load generator's process, start-up included (for the noise figure). */
  readonly loadgenTotalCpuSeconds: number | undefined
}

export type LoadTool = 'wrk' | 'autocannon'

/**
 * The headers of `request` for each send, in turn: with the entry's next single-use DPoP proof
 * when it carries them (`DPoP: exhausted` once they run out), else always the same headers.
 */
export function headersPerSend(request: LoadRequest): () => Readonly<Record<string, string>> {
  const proofs = request.dpopProofs
  if (proofs === undefined) return () => request.headers
  let used = 0
  return () => ({ ...request.headers, dpop: proofs[used++] ?? 'exhausted' })
}

/** Exact percentile of sorted samples (nearest rank). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank] as number
}
