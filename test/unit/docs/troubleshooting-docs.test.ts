import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'

/**
 * Every failure reason the gateway can log has a section in docs/troubleshooting.md and a row in
 * docs/errors.md. The reasons
 * are read from the `FailureReason` union in src/errors.ts, so a new reason without a section fails.
 */

const errorsSource = readFileSync(new URL('../../../src/errors.ts', import.meta.url), 'utf8')
const guide = readFileSync(new URL('../../../docs/troubleshooting.md', import.meta.url), 'utf8')
const errorTable = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8')

function failureReasons(source: string): string[] {
  const start = source.indexOf('export type FailureReason =')
  assert.ok(start !== -1, 'FailureReason union not found in src/errors.ts')
  const block = source.slice(start, source.indexOf('\n\n', start))
  return [...block.matchAll(/\|\s*'([a-z_]+)'/g)].map((m) => m[1] as string)
}

test('the FailureReason union is read (guards the parser below)', () => {
  const reasons = failureReasons(errorsSource)
  assert.ok(reasons.length >= 30, `only ${reasons.length} reasons parsed`)
  assert.ok(reasons.includes('audience') && reasons.includes('internal'))
})

test('every FailureReason has its own section in docs/troubleshooting.md', () => {
  const headings = new Set([...guide.matchAll(/^### `([a-z_]+)`$/gm)].map((m) => m[1]))
  const missing = failureReasons(errorsSource).filter((reason) => !headings.has(reason))
  assert.deepEqual(missing, [], `add a "### \`reason\`" section for: ${missing.join(', ')}`)
})

test('every section names a reason that exists (no stale sections)', () => {
  const reasons = new Set(failureReasons(errorsSource))
  const stale = [...guide.matchAll(/^### `([a-z_]+)`$/gm)].map((m) => m[1] as string).filter((h) => !reasons.has(h))
  assert.deepEqual(stale, [])
})

test('every FailureReason has a row in docs/errors.md, and every row is a reason', () => {
  const rows = [...errorTable.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1] as string)
  const reasons = failureReasons(errorsSource)
  assert.deepEqual(reasons.filter((r) => !rows.includes(r)), [], 'reasons without a row')
  assert.deepEqual(rows.filter((r) => !reasons.includes(r)), [], 'rows without a reason')
})
