import { summarize, type CheckResult, type CheckStatus } from './result.js'

const LABEL: Readonly<Record<CheckStatus, string>> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' }

/**
 * The readable report: one line per check, the fix indented under each finding, and a summary.
 *
 *   ok    canonical-uri          https://mcp.example.com/mcp is an https URL in canonical form
 *   FAIL  as.issuer              [https://auth.example.com/] the metadata names issuer ...
 *         fix: set MCP_AUTHORIZATION_SERVER (...) to "https://auth.example.com" exactly ...
 */
export function formatCheckReport(results: readonly CheckResult[], strict: boolean): string {
  const lines = formatCheckLines(results)
  const s = summarize(results)
  const verdict = s.fail > 0 || (strict && s.warn > 0) ? 'check failed' : 'check passed'
  const strictNote = strict && s.warn > 0 && s.fail === 0 ? ' (--strict: warnings fail)' : ''
  lines.push('', `${verdict}: ${s.ok} ok, ${s.warn} warning${s.warn === 1 ? '' : 's'}, ${s.fail} failure${s.fail === 1 ? '' : 's'}${strictNote}`)
  return lines.join('\n')
}

/** The lines of the report without its summary (also what a failed start prints). */
export function formatCheckLines(results: readonly CheckResult[]): string[] {
  const width = Math.max(...results.map((r) => r.id.length), 10)
  const lines: string[] = []
  for (const r of results) {
    const subject = r.subject === undefined ? '' : `[${r.subject}] `
    lines.push(`${LABEL[r.status]}  ${r.id.padEnd(width)}  ${subject}${r.message}`)
    if (r.fix !== undefined && r.status !== 'ok') lines.push(`${' '.repeat(width + 8)}fix: ${r.fix}`)
  }
  return lines
}

/** `--json`: the same results for machines. */
export function checkReportJson(results: readonly CheckResult[], strict: boolean): string {
  const summary = summarize(results)
  const passed = summary.fail === 0 && !(strict && summary.warn > 0)
  return JSON.stringify({ passed, strict, summary, results }, null, 2)
}
