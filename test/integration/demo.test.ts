import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { connect } from 'node:net'
import { fileURLToPath } from 'node:url'
import { createRemoteJWKSet, jwtVerify } from 'jose'
import { parseDemoPorts } from '../../src/cli/start.js'
import { reservePort } from '../../src/demo/reserve-port.js'
import { runDemo } from '../../src/demo/run.js'
import type { RunningDemo } from '../../src/demo/run.js'
import { HeadlessOAuthProvider, connectWithOAuth } from '../support/oauth-client.js'

/**
 * Runs the demo on random ports and then does exactly what its printed instructions say: the
 * curl commands are parsed out of the printed text and replayed with fetch.
 */

interface Curl {
  url: string
  method: string
  headers: Record<string, string>
  body: string | undefined
}

/** Splits one shell command line into words: '...' literal, "..." with $VAR expansion. */
function shellWords(line: string, vars: Record<string, string>): string[] {
  const words: string[] = []
  let word: string | undefined
  let i = 0
  const expand = (s: string): string => s.replace(/\$([A-Z_]+)/g, (_, name: string) => vars[name] ?? '')
  while (i < line.length) {
    const c = line[i] as string
    if (c === ' ') {
      if (word !== undefined) words.push(word)
      word = undefined
      i++
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1)
      assert.ok(end !== -1, `unterminated ' in ${line}`)
      word = (word ?? '') + line.slice(i + 1, end)
      i = end + 1
    } else if (c === '"') {
      const end = line.indexOf('"', i + 1)
      assert.ok(end !== -1, `unterminated " in ${line}`)
      word = (word ?? '') + expand(line.slice(i + 1, end))
      i = end + 1
    } else {
      const m = /^[^ '"]+/.exec(line.slice(i))?.[0] ?? c
      word = (word ?? '') + expand(m)
      i += m.length
    }
  }
  if (word !== undefined) words.push(word)
  return words
}

/** The subset of curl the instructions use: -i -s -X -H -d --data-urlencode -u. */
function parseCurl(words: string[]): Curl {
  assert.equal(words[0], 'curl')
  let url: string | undefined
  let method: string | undefined
  const headers: Record<string, string> = {}
  const data: string[] = []
  for (let i = 1; i < words.length; i++) {
    const w = words[i] as string
    const next = (): string => {
      const v = words[++i]
      assert.ok(v !== undefined, `${w} needs a value`)
      return v
    }
    if (w === '-i' || w === '-s') continue
    if (w === '-X') method = next()
    else if (w === '-H') {
      const h = next()
      const colon = h.indexOf(':')
      headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim()
    } else if (w === '-d') data.push(next())
    else if (w === '--data-urlencode') {
      const v = next()
      const eq = v.indexOf('=')
      data.push(`${v.slice(0, eq)}=${encodeURIComponent(v.slice(eq + 1))}`)
    } else if (w === '-u') headers['authorization'] = `Basic ${Buffer.from(next()).toString('base64')}`
    else if (w.startsWith('-')) assert.fail(`unexpected curl option ${w}`)
    else url = w
  }
  assert.ok(url !== undefined, 'curl without a URL')
  const body = data.length > 0 ? data.join('&') : undefined
  // curl -d implies POST and, unless a Content-Type is given, a form body.
  if (body !== undefined) headers['content-type'] ??= 'application/x-www-form-urlencoded'
  return { url, method: method ?? (body !== undefined ? 'POST' : 'GET'), headers, body }
}

/** Finds the curl commands and shell variables in the printed block, in order. */
function parseInstructions(text: string): { curls: Curl[]; vars: Record<string, string> } {
  const vars: Record<string, string> = {}
  const curls: Curl[] = []
  const lines = text.replace(/\\\n\s*/g, '').split('\n').map((l) => l.trim())
  for (const line of lines) {
    const assign = /^([A-Z_]+)=(.*)$/.exec(line)
    if (assign !== null) {
      const words = shellWords(assign[2] as string, vars)
      vars[assign[1] as string] = words.join(' ')
    } else if (line.startsWith('curl ')) {
      curls.push(parseCurl(shellWords(line, vars)))
    }
  }
  return { curls, vars }
}

async function run(c: Curl): Promise<Response> {
  return fetch(c.url, { method: c.method, headers: c.headers, body: c.body })
}

describe('demo end to end', () => {
  let demo: RunningDemo
  let printed = ''
  let curls: Curl[] = []

  before(async () => {
    demo = await runDemo({
      gatewayPort: 0,
      asPort: 0,
      backendPort: 0,
      log: (text) => {
        printed += text
      },
      gatewayEnv: { MCP_LOG_LEVEL: 'silent' },
    })
    curls = parseInstructions(printed).curls
  })
  after(async () => {
    await demo?.close()
  })

  test('prints four commands against the running servers', () => {
    assert.equal(curls.length, 4, printed)
    assert.match(demo.gatewayUrl, /^http:\/\/127\.0\.0\.1:\d+\/mcp$/)
    assert.ok(printed.includes(demo.gatewayUrl))
    assert.ok(printed.includes(demo.token))
  })

  test('1) without a token: 401 with a Bearer challenge naming the metadata', async () => {
    const c = curls[0] as Curl
    assert.equal(c.headers['authorization'], undefined)
    const res = await run(c)
    assert.equal(res.status, 401)
    const challenge = res.headers.get('www-authenticate') ?? ''
    assert.match(challenge, /^Bearer /)
    assert.ok(challenge.includes(`resource_metadata="${demo.metadataUrl}"`), challenge)
    await res.arrayBuffer()
  })

  test('2) the metadata names the resource and the authorization server', async () => {
    const res = await run(curls[1] as Curl)
    assert.equal(res.status, 200)
    const meta = (await res.json()) as Record<string, unknown>
    assert.equal(meta['resource'], demo.gatewayUrl)
    assert.deepEqual(meta['authorization_servers'], [demo.authorizationServerUrl])
  })

  test('3) with the printed token: the echo tool answers through the gateway', async () => {
    const c = curls[2] as Curl
    assert.equal(c.headers['authorization'], `Bearer ${demo.token}`)
    assert.equal(c.headers['mcp-protocol-version'], '2025-11-25')
    const res = await run(c)
    assert.equal(res.status, 200)
    const type = res.headers.get('content-type') ?? ''
    const text = await res.text()
    // The gateway may pass JSON or an SSE stream through; read either.
    const json = type.startsWith('text/event-stream') ? (/^data: (.*)$/m.exec(text)?.[1] ?? '') : text
    const msg = JSON.parse(json) as { id: number; result: { content: Array<{ type: string; text: string }> } }
    assert.equal(msg.id, 2)
    assert.deepEqual(msg.result.content, [{ type: 'text', text: 'Hello through the gateway' }])
  })

  test('4) the token command returns a fresh token the gateway accepts', async () => {
    const res = await run(curls[3] as Curl)
    assert.equal(res.status, 200)
    const body = (await res.json()) as { access_token: string; scope: string }
    assert.equal(body.scope, 'mcp:tools')
    const { payload } = await jwtVerify(body.access_token, createRemoteJWKSet(new URL(`${demo.authorizationServerUrl}/jwks`)), {
      issuer: demo.authorizationServerUrl,
      audience: demo.gatewayUrl,
    })
    assert.equal(payload['client_id'], 'demo-client')

    const call = { ...(curls[2] as Curl) }
    call.headers = { ...call.headers, authorization: `Bearer ${body.access_token}` }
    const res2 = await run(call)
    assert.equal(res2.status, 200)
    await res2.arrayBuffer()
  })

  test('an MCP SDK client finds the AS through the 401, registers, signs in and calls a tool', async () => {
    const provider = new HeadlessOAuthProvider({ clientName: 'demo-sdk-client' })
    const session = await connectWithOAuth(demo.gatewayUrl, provider)
    try {
      assert.deepEqual(provider.scopes, ['mcp:tools'])
      assert.equal(provider.lastCallbackUrl?.searchParams.get('iss'), demo.authorizationServerUrl)
      const tools = await session.client.listTools()
      assert.deepEqual(tools.tools.map((t) => t.name), ['echo', 'add'])
      const sum = await session.client.callTool({ name: 'add', arguments: { a: 20, b: 22 } })
      assert.deepEqual(sum.content, [{ type: 'text', text: '42' }])
    } finally {
      await session.client.close()
    }
  })
})

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

describe('npm start', () => {
  test('runs the demo on the ports from its flags, and SIGTERM to npm stops all three servers', async () => {
    // The real `npm start` (package.json runs the built CLI, like index.test.ts's dist check), in
    // its own process group so that cleanup can reach a child npm left behind.
    const [gateway, as, backend] = [await reservePort(), await reservePort(), await reservePort()]
    const npm = spawn('npm', ['start', '--', '--port', String(gateway), '--as-port', String(as), '--backend-port', String(backend)], {
      cwd: fileURLToPath(new URL('../../', import.meta.url)),
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    let output = ''
    npm.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
    npm.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
    const exited = new Promise<number | string>((resolve) => npm.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')))
    try {
      for (let i = 0; i < 200 && !output.includes('Ctrl-C stops it'); i++) await new Promise((r) => setTimeout(r, 100))
      assert.ok(output.includes(`http://127.0.0.1:${gateway}/mcp`), output)
      assert.deepEqual(await Promise.all([gateway, as, backend].map(accepting)), [true, true, true])

      npm.kill('SIGTERM')
      const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), 10_000))])
      assert.equal(code, 0, output)
      assert.deepEqual(await Promise.all([gateway, as, backend].map(accepting)), [false, false, false])
    } finally {
      try {
        process.kill(-(npm.pid as number), 'SIGKILL')
      } catch {
        // The whole group has already exited.
      }
    }
  })

  test('an unknown flag or a bad port is refused, not ignored', () => {
    assert.deepEqual(parseDemoPorts(['--port', '8081', '--as-port', '0', '--backend-port', '9501']), {
      gatewayPort: 8081,
      asPort: 0,
      backendPort: 9501,
    })
    assert.throws(() => parseDemoPorts(['--port', '80a']), /--port must be a port number/)
    assert.throws(() => parseDemoPorts(['--port', '70000']), /--port must be a port number/)
    assert.throws(() => parseDemoPorts(['--listen', '1']), /Unknown option '--listen'/)
  })
})
