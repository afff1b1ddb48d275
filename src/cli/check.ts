import { loadConfig } from '../config/load.js'
import { ConfigError } from '../errors.js'
import { checkReportJson, formatCheckReport } from '../check/format.js'
import { exitCodeFor, fail, type CheckResult } from '../check/result.js'
import { runChecks } from '../check/run-checks.js'

export interface CheckCommandIo {
  env?: Readonly<Record<string, string | undefined>>
  write?: (text: string) => void
  fetch?: typeof fetch
}

/**
 * `check [--config FILE] [--strict] [--json]`: loads the configuration exactly as `serve` does
 * (a configuration error becomes a failed line per problem), then checks it and the live world.
 * Exit code 0 when nothing failed (with `--strict`, when nothing warned either), 1 otherwise.
 */
export async function check(argv: readonly string[], io: CheckCommandIo = {}): Promise<number> {
  const env = io.env ?? process.env
  const write = io.write ?? ((text: string) => process.stdout.write(`${text}\n`))
  const json = argv.includes('--json')
  const strict = argv.includes('--strict')

  let results: CheckResult[]
  try {
    const config = await loadConfig({ env, argv })
    results = await runChecks(config, { env, fetch: io.fetch })
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    results = error.problems.map((problem) =>
      fail('config', problem, 'correct this setting (docs/configuration.md lists every key and variable)'),
    )
  }
  write(json ? checkReportJson(results, strict) : formatCheckReport(results, strict))
  return exitCodeFor(results, strict)
}
