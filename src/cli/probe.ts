import { parseArgs } from 'node:util'
import { formatProbeReport, probeReportJson } from '../probe/format.js'
import { PROBE_PROTOCOLS, type ProbeProtocol } from '../probe/mcp-messages.js'
import { runProbe } from '../probe/run-probe.js'

const USAGE = `Usage: mcp-resource-gateway probe <URL> [--token T] [--protocol 2025-11-25|2026-07-28] [--timeout SECONDS] [--json]

Walks the MCP endpoint URL as a strict MCP client would and reports each step.
--token (or MCP_PROBE_TOKEN) adds an authenticated opening request and tools/list.`

export interface ProbeCommandIo {
  env?: Readonly<Record<string, string | undefined>>
  write?: (text: string) => void
  writeError?: (text: string) => void
}

/**
 * `probe <URL>`: exit 0 when every step a strict client needs passed, 1 when one failed, 2 on a
 * usage error. The token may come from `MCP_PROBE_TOKEN` so it stays out of shell history and
 * process listings.
 */
export async function probe(argv: readonly string[], io: ProbeCommandIo = {}): Promise<number> {
  const write = io.write ?? ((text: string) => process.stdout.write(`${text}\n`))
  const writeError = io.writeError ?? ((text: string) => process.stderr.write(`${text}\n`))
  const env = io.env ?? process.env
  let values: { token?: string; protocol?: string; timeout?: string; json?: boolean; help?: boolean }
  let positionals: string[]
  try {
    ;({ values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        token: { type: 'string' },
        protocol: { type: 'string' },
        timeout: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }))
  } catch (error) {
    writeError(`${(error as Error).message}\n\n${USAGE}`)
    return 2
  }
  if (values.help === true) {
    write(USAGE)
    return 0
  }
  const url = positionals[0]
  if (url === undefined || positionals.length > 1 || !/^https?:\/\//i.test(url) || !URL.canParse(url)) {
    writeError(`probe needs one absolute http(s) URL of an MCP endpoint\n\n${USAGE}`)
    return 2
  }
  const protocol = (values.protocol ?? '2025-11-25') as ProbeProtocol
  if (!PROBE_PROTOCOLS.includes(protocol)) {
    writeError(`--protocol must be one of ${PROBE_PROTOCOLS.join(', ')}`)
    return 2
  }
  const timeoutSeconds = values.timeout === undefined ? 10 : Number(values.timeout)
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
    writeError('--timeout must be a positive number of seconds')
    return 2
  }
  const token = values.token ?? (env.MCP_PROBE_TOKEN || undefined)
  const report = await runProbe({ url, token, protocol, timeoutMs: timeoutSeconds * 1000 })
  write(values.json === true ? probeReportJson(report) : formatProbeReport(report))
  return report.passed ? 0 : 1
}
