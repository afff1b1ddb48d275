import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { reservePort } from '../../src/demo/reserve-port.js'
import { startMcpBackend, type McpBackend } from './mcp-backend.js'
import { accessTokenClaims, createTestKeys, mintJwt, type TestKeys } from './tokens.js'
import { recordSecret } from './log-capture.js'

/**
 * What the operations tests (logs, metrics, reload, shutdown, TLS, workers) share: an issuer whose
 * keys sit in a JWKS file (no AS process needed), the SDK MCP backend, a reserved gateway port, a
 * config file writer, and a streaming client that sees SSE events as they arrive.
 */

export const ISSUER = 'https://issuer.ops-test.example'

export interface OpsFixture {
  readonly dir: string
  readonly keys: TestKeys
  readonly jwksFile: string
  readonly backend: McpBackend
  readonly port: number
  /** `http://127.0.0.1:<port>/mcp`. */
  readonly canonicalUri: string
  /** A valid RS256 token for the canonical URI with these scopes (recorded for the log scan). */
  token(scope: string, extra?: Record<string, unknown>): Promise<string>
  /** The file settings every test needs, merged under `overrides` (top-level keys replaced). */
  settings(overrides?: Record<string, unknown>): Record<string, unknown>
  /** Writes `settings(overrides)` (or raw text) to `<dir>/gateway.yaml` and returns its path. */
  writeConfig(overrides?: Record<string, unknown> | string): Promise<string>
  close(): Promise<void>
}

export async function createOpsFixture(options: { scheme?: 'http' | 'https' } = {}): Promise<OpsFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'mcp-gateway-ops-'))
  const keys = await createTestKeys()
  const jwksFile = await keys.writeJwksFile(dir)
  const backend = await startMcpBackend({ mode: 'stateless' })
  const port = await reservePort()
  const canonicalUri = `${options.scheme ?? 'http'}://127.0.0.1:${port}/mcp`
  const configPath = join(dir, 'gateway.yaml')
  const settings = (overrides: Record<string, unknown> = {}) => ({
    listen: { host: '127.0.0.1', port },
    resource: { canonicalUri },
    authorizationServers: [{ issuer: ISSUER, jwksFile }],
    backend: { url: backend.origin },
    ...overrides,
  })
  return {
    dir,
    keys,
    jwksFile,
    backend,
    port,
    canonicalUri,
    async token(scope, extra = {}) {
      const token = await mintJwt({
        key: keys.rsa,
        claims: { ...accessTokenClaims({ issuer: ISSUER, audience: canonicalUri, scope, subject: 'user-42', clientId: 'ops-client' }), ...extra },
      })
      recordSecret(token)
      return token
    },
    settings,
    async writeConfig(overrides) {
      await writeFile(configPath, typeof overrides === 'string' ? overrides : stringify(settings(overrides)))
      return configPath
    },
    async close() {
      await backend.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

export const LIST_TOOLS = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} })

export function callTool(name: string, args: Record<string, unknown>, id = 2): string {
  return JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } })
}

export interface StreamingResponse {
  status: number
  headers: IncomingHttpHeaders
  /** Body text received so far. */
  text(): string
  /** Resolves when the response ended (`complete`) or the connection broke (`aborted`). */
  ended: Promise<'complete' | 'aborted'>
  destroy(): void
}

/**
 * POSTs an MCP request and resolves as soon as the response headers arrive, so a test can act
 * while an SSE stream is still open. New connection each time (`agent: false`).
 */
export function postStreaming(
  url: string,
  body: string,
  headers: Record<string, string>,
  tls?: { ca: string | Buffer },
): Promise<StreamingResponse> {
  return new Promise((resolve, reject) => {
    const send = url.startsWith('https:') ? httpsRequest : httpRequest
    const req = send(url, {
      method: 'POST',
      agent: false,
      ...(tls === undefined ? {} : { ca: tls.ca }),
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2025-06-18',
        ...headers,
      },
    })
    req.once('error', reject)
    req.once('response', (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        text += chunk
      })
      const ended = new Promise<'complete' | 'aborted'>((done) => {
        res.once('end', () => done('complete'))
        res.once('aborted', () => done('aborted'))
        res.once('error', () => done('aborted'))
        res.once('close', () => done(res.complete ? 'complete' : 'aborted'))
      })
      resolve({ status: res.statusCode ?? 0, headers: res.headers, text: () => text, ended, destroy: () => res.destroy() })
    })
    req.end(body)
  })
}

/** Polls `check` every 20 ms until it holds; throws after `timeoutMs`. */
export async function eventually(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

export { reservePort }
