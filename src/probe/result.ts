/**
 * One step of `probe`: what the strict client did, what it saw, and what it would do next.
 * `fail` marks a step a strict client needs (the run exits non-zero); `warn` a deviation a
 * client survives; `skip` a step that could not run because an earlier one failed.
 */

export type StepStatus = 'ok' | 'warn' | 'fail' | 'skip'

export interface ProbeStep {
  /** Stable identifier (`challenge`, `resource-metadata`, ...). */
  readonly id: string
  readonly title: string
  readonly status: StepStatus
  /** Observations, one per line (requests made and what came back). Never a token. */
  readonly saw: readonly string[]
  /** What a strict MCP client does with this. */
  readonly client: string
}

export interface ProbeReport {
  readonly url: string
  readonly protocolVersion: string
  readonly steps: readonly ProbeStep[]
  /** No step failed. */
  readonly passed: boolean
}

export function step(id: string, title: string, status: StepStatus, saw: readonly string[], client: string): ProbeStep {
  return { id, title, status, saw, client }
}

export function skipped(id: string, title: string, because: string): ProbeStep {
  return { id, title, status: 'skip', saw: [], client: `not tried: ${because}` }
}
