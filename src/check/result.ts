/**
 * One line of the `check` report. A check never throws for a finding: it returns a result, so one
 * run shows every problem at once (as `loadConfig` does for configuration errors).
 */

export type CheckStatus = 'ok' | 'warn' | 'fail'

export interface CheckResult {
  /** Stable identifier, for `--json` consumers and the docs (`canonical-uri`, `as.issuer`, ...). */
  readonly id: string
  readonly status: CheckStatus
  /** What the check is about when it repeats per item: an issuer, a file. */
  readonly subject?: string | undefined
  /** What was found, in one sentence. Never a token, a secret or a claim. */
  readonly message: string
  /** What to do about it; present on every `fail` and on most `warn`. */
  readonly fix?: string | undefined
  /**
   * The server asked could not be reached (network error, timeout, HTTP 5xx): the same check may
   * pass later without any change here. `serve` exits 1 for such a finding, 2 for the others.
   */
  readonly unreachable?: true | undefined
}

export const ok = (id: string, message: string, subject?: string): CheckResult => ({ id, status: 'ok', subject, message })

export const warn = (id: string, message: string, fix?: string, subject?: string): CheckResult => ({
  id,
  status: 'warn',
  subject,
  message,
  fix,
})

export const fail = (id: string, message: string, fix: string, subject?: string): CheckResult => ({
  id,
  status: 'fail',
  subject,
  message,
  fix,
})

/** `result`, marked as a server that could not be reached. */
export const unreachable = (result: CheckResult): CheckResult => ({ ...result, unreachable: true })

export interface CheckSummary {
  ok: number
  warn: number
  fail: number
}

export function summarize(results: readonly CheckResult[]): CheckSummary {
  const summary: CheckSummary = { ok: 0, warn: 0, fail: 0 }
  for (const r of results) summary[r.status]++
  return summary
}

/** 0 when nothing failed; with `strict`, a warning fails the run too. */
export function exitCodeFor(results: readonly CheckResult[], strict: boolean): number {
  const { warn: warnings, fail: failures } = summarize(results)
  return failures > 0 || (strict && warnings > 0) ? 1 : 0
}

/** The worst of several statuses, for a check that folds findings into one line. */
export function worst(...statuses: CheckStatus[]): CheckStatus {
  if (statuses.includes('fail')) return 'fail'
  return statuses.includes('warn') ? 'warn' : 'ok'
}
