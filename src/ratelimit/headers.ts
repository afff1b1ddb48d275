import type { Verdict } from './algorithms.js'
import type { Limit } from './rate.js'

/** One limit's verdict for this request, named by its policy (`default`, `tool:<name>`). */
export interface PolicyVerdict {
  readonly policy: string
  readonly limit: Limit
  readonly verdict: Verdict
}

/**
 * Response headers for a request's verdicts:
 *
 * - `X-RateLimit-Limit` / `-Remaining` / `-Reset` (seconds): nginx-ratelimit's, which
 *   nginx-mcp-resource clients may read. They describe the binding limit: a denying one (the
 *   longest wait) or else the one with the least left.
 * - `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers-10 §2, §3): every
 *   policy as a structured-field list item with its quota `q`, window `w`, remaining `r` and
 *   seconds to reset `t`.
 */
export function rateLimitHeaders(verdicts: readonly PolicyVerdict[]): Record<string, string> {
  const binding = bindingVerdict(verdicts)
  if (binding === undefined) return {}
  const { verdict } = binding
  return {
    'x-ratelimit-limit': String(verdict.limit),
    'x-ratelimit-remaining': String(verdict.remaining),
    'x-ratelimit-reset': String(seconds(verdict.resetMs)),
    'ratelimit-policy': verdicts
      .map((v) => `${sfString(v.policy)};q=${v.verdict.limit};w=${Math.ceil(v.limit.periodMs / 1000)}`)
      .join(', '),
    ratelimit: verdicts.map((v) => `${sfString(v.policy)};r=${v.verdict.remaining};t=${seconds(v.verdict.resetMs)}`).join(', '),
  }
}

export function bindingVerdict(verdicts: readonly PolicyVerdict[]): PolicyVerdict | undefined {
  let binding: PolicyVerdict | undefined
  for (const candidate of verdicts) {
    if (binding === undefined) binding = candidate
    else if (candidate.verdict.allowed !== binding.verdict.allowed) binding = candidate.verdict.allowed ? binding : candidate
    else if (!candidate.verdict.allowed) binding = candidate.verdict.retryAfterMs > binding.verdict.retryAfterMs ? candidate : binding
    else binding = candidate.verdict.remaining < binding.verdict.remaining ? candidate : binding
  }
  return binding
}

/** Whole seconds, rounded up: a client that waits this long finds the limit open (RFC 9110 §10.2.3). */
export function seconds(ms: number): number {
  return Math.ceil(ms / 1000)
}

/** RFC 8941 §3.3.3 sf-string: printable ASCII, with `"` and `\` escaped; anything else dropped. */
function sfString(value: string): string {
  return `"${value.replace(/[^\x20-\x7e]/g, '').replace(/["\\]/g, '\\$&')}"`
}
