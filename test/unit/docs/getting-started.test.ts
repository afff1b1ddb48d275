import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DEMO_CLIENT_ID, DEMO_CLIENT_SECRET } from '../../../src/demo/authorization-server.js'
import { runDemo, type RunningDemo } from '../../../src/demo/run.js'

/**
 * docs/getting-started.md stays true: its SDK client (the `client.mjs` block, run as written) reaches
 * a tool call through the demo, and the metadata it shows is what the demo serves.
 */

const REPO = fileURLToPath(new URL('../../../', import.meta.url))
const GUIDE = join(REPO, 'docs/getting-started.md')

function codeBlock(markdown: string, firstLine: string): string {
  const blocks = [...markdown.matchAll(/```[a-z]*\n([\s\S]*?)```/g)].map((m) => m[1] as string)
  const block = blocks.find((b) => b.startsWith(firstLine))
  assert.ok(block !== undefined, `no code block starting with "${firstLine}" in getting-started.md`)
  return block
}

describe('docs/getting-started.md against the demo', () => {
  let demo: RunningDemo
  let guide: string
  let dir: string

  before(async () => {
    guide = await readFile(GUIDE, 'utf8')
    demo = await runDemo({ gatewayPort: 0, asPort: 0, backendPort: 0, log: () => {} })
    // Inside node_modules so the script's bare imports resolve exactly as in the repository folder.
    await mkdir(join(REPO, 'node_modules/.cache'), { recursive: true })
    dir = await mkdtemp(join(REPO, 'node_modules/.cache/getting-started-'))
  })
  after(async () => {
    await demo?.close()
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  test('the metadata shown is the one the demo serves (ports aside)', async () => {
    const shown = codeBlock(guide, '{"resource"').trim()
    const gatewayPort = new URL(demo.gatewayUrl).port
    const asPort = new URL(demo.authorizationServerUrl).port
    const served = await (await fetch(demo.metadataUrl)).text()
    assert.equal(served, shown.replace('127.0.0.1:8080', `127.0.0.1:${gatewayPort}`).replace('127.0.0.1:9400', `127.0.0.1:${asPort}`))
  })

  test('client.mjs, as written, lists the tools and calls echo through the gateway', async () => {
    const script = join(dir, 'client.mjs')
    await writeFile(script, codeBlock(guide, '// client.mjs'))
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [script], {
        env: {
          PATH: process.env.PATH ?? '',
          MCP_URL: demo.gatewayUrl,
          ISSUER: demo.authorizationServerUrl,
          CLIENT_ID: DEMO_CLIENT_ID,
          CLIENT_SECRET: DEMO_CLIENT_SECRET,
          SCOPE: 'mcp:tools',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let out = ''
      let err = ''
      child.stdout.on('data', (c: Buffer) => (out += c.toString()))
      child.stderr.on('data', (c: Buffer) => (err += c.toString()))
      const timer = setTimeout(() => child.kill(), 60_000)
      child.once('error', reject)
      child.once('close', (exit) => {
        clearTimeout(timer)
        resolve({ code: exit, stdout: out, stderr: err })
      })
    })
    assert.equal(code, 0, stderr)
    assert.equal(stdout, codeBlock(guide, 'tools: echo, add'))
  })
})
