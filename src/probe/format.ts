import type { ProbeReport, StepStatus } from './result.js'

const LABEL: Readonly<Record<StepStatus, string>> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL', skip: 'skip' }

/**
 * The readable walk:
 *
 *   1  ok    Unauthenticated initialize
 *            saw     POST https://mcp.example.com/mcp (initialize, no token) -> HTTP 401
 *            client  starts authorization: reads the WWW-Authenticate challenge
 */
export function formatProbeReport(report: ProbeReport): string {
  const lines = [`probe ${report.url} as a strict MCP client (protocol ${report.protocolVersion})`, '']
  report.steps.forEach((s, i) => {
    const n = String(i + 1).padEnd(3)
    lines.push(`${n}${LABEL[s.status]}  ${s.title}`)
    const indent = ' '.repeat(9)
    s.saw.forEach((line, j) => lines.push(`${indent}${j === 0 ? 'saw   ' : '      '}  ${line}`))
    lines.push(`${indent}client  ${s.client}`)
  })
  const count = (status: StepStatus) => report.steps.filter((s) => s.status === status).length
  const failures = count('fail')
  const warnings = count('warn')
  lines.push(
    '',
    report.passed
      ? `a strict client gets through (${warnings} warning${warnings === 1 ? '' : 's'})`
      : `a strict client does not get through: ${failures} step${failures === 1 ? '' : 's'} failed, ${warnings} warning${warnings === 1 ? '' : 's'}`,
  )
  return lines.join('\n')
}

export function probeReportJson(report: ProbeReport): string {
  return JSON.stringify(report, null, 2)
}
