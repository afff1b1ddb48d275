// Node 20's `--test` does not expand globs, so the test files are listed here and handed over
// explicitly. Extra arguments narrow the run: `node scripts/run-tests.mjs unit` runs test/unit only.
// Every test process preloads test/support/log-capture.ts: it logs each in-process gateway at
// trace level and records every credential the tests send, for the secret scan that runs last
// (test/integration/zz-log-scan.test.ts).
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'

function findTests(dir) {
  const out = []
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...findTests(path))
    else if (name.endsWith('.test.ts')) out.push(path)
  }
  return out
}

const filters = process.argv.slice(2)
const files = findTests('test').filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`)
  process.exit(1)
}
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--import', './test/support/log-capture.ts', '--test', '--test-concurrency=2', '--test-timeout=120000', ...files],
  { stdio: 'inherit' },
)
process.exit(result.status ?? 1)
