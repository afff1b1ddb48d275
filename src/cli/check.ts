import { readFileSync } from 'node:fs'
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
 * `check [--config FILE] [--strict] [--json] [--exchange-token-file FILE]`: loads the configuration exactly as `serve` does
 * (a configuration error becomes a failed line per problem), then checks it and the live world.
 * Exit code 0 when nothing failed (with `--strict`, when nothing warned either), 1 otherwise.
 * `--exchange-token-file` names a file holding a real user's access token: with
 * `upstreamIdentity.mode: exchange`, it is exchanged once (a file, since a token on the command line
 * shows in process listings).
 */
export async function check(args: readonly string[], io: CheckCommandIo = {}): Promise<number> {
  const env = io.env ?? process.env
  const write = io.write ?? ((text: string) => process.stdout.write(`${text}\n`))
  const at = args.indexOf('--exchange-token-file')
  const argv = at === -1 ? args : [...args.slice(0, at), ...args.slice(at + 2)]
  const json = argv.includes('--json')
  const strict = argv.includes('--strict')

  let results: CheckResult[]
  try {
    const config = await loadConfig({ env, argv })
    const exchangeToken = at === -1 ? undefined : readExchangeToken(args[at + 1])
    results = await runChecks(config, { env, fetch: io.fetch, exchangeToken })
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    results = error.problems.map((problem) =>
      fail('config', problem, 'correct this setting (docs/configuration.md lists every key and variable)'),
    )
  }
  write(json ? checkReportJson(results, strict) : formatCheckReport(results, strict))
  return exitCodeFor(results, strict)
}

function readExchangeToken(file: string | undefined): string {
  if (file === undefined) throw new ConfigError(['--exchange-token-file: expected a file holding an access token'])
  try {
    return readFileSync(file, 'utf8').trim()
  } catch (error) {
    throw new ConfigError([`--exchange-token-file=${file} is not readable (${(error as NodeJS.ErrnoException).code ?? 'error'})`])
  }
}
