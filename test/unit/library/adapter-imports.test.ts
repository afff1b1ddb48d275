import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

/**
 * Framework packages are optional peer dependencies: importing one adapter must load no framework
 * (its types are erased). A child process imports the adapter under a resolve hook that refuses
 * every framework package; the same hook refusing a direct `import 'express'` shows it works.
 */

const REPO = fileURLToPath(new URL('../../../', import.meta.url))
const FRAMEWORKS = /^(express|fastify|hono|@hono\/node-server)(\/|$)/

function importUnderHook(specifier: string): { status: number | null; output: string } {
  const hook = `export async function resolve(specifier, context, next) {
    if (${FRAMEWORKS.toString()}.test(specifier)) throw new Error('framework loaded: ' + specifier)
    return next(specifier, context)
  }`
  const script = `import { register } from 'node:module'
    register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}))
    await import(${JSON.stringify(specifier)})`
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: REPO,
    encoding: 'utf8',
    timeout: 60_000,
  })
  return { status: child.status, output: `${child.stdout}${child.stderr}` }
}

for (const adapter of ['node', 'express', 'fastify', 'hono']) {
  test(`importing the ${adapter} adapter loads no framework package`, () => {
    const { status, output } = importUnderHook(`./src/adapters/${adapter}.ts`)
    assert.equal(status, 0, output)
  })
}

test('the hook does refuse a framework import (control)', () => {
  const { status, output } = importUnderHook('express')
  assert.notEqual(status, 0)
  assert.match(output, /framework loaded: express/)
})
