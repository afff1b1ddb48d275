import { randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js'
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js'
import { z } from 'zod'
import { closeServer, listenOnLoopback } from './listen.js'
import { readBody, recordRequest } from './record-request.js'
import type { RecordedRequest } from './record-request.js'

export const PUBLIC_RESOURCE_URI = 'file:///public/readme.txt'
export const PRIVATE_RESOURCE_URI = 'file:///private/keys.txt'
// Bounds slow_count so a bad argument cannot keep a test (or a gateway under test) busy forever.
const MAX_SLOW_COUNT = 1000
const MAX_SLOW_DELAY_MS = 10_000

/**
 * Runs before the MCP transport sees a request; resolve `true` when it has answered `res` itself.
 * Lets a test stand a small resource server (or a fault) in front of a real MCP server.
 */
export type InterceptRequest = (
  req: IncomingMessage,
  res: ServerResponse,
  body: unknown,
) => boolean | Promise<boolean>

/**
 * How the backend reads the caller's identity from a request the gateway forwarded (an exchanged
 * token, a gateway-signed assertion, plain headers): the verified claims, or `undefined` to answer
 * 401. With it, the backend serves a `whoami` tool whose result is those claims as JSON.
 */
export type IdentifyCaller = (req: IncomingMessage) => Promise<Record<string, unknown> | undefined>

export interface McpBackendOptions {
  /** `stateful` issues session ids and serves GET streams and DELETE; `stateless` builds a server per request. */
  mode?: 'stateful' | 'stateless'
  enableJsonResponse?: boolean
  intercept?: InterceptRequest
  identify?: IdentifyCaller
}

export interface McpBackend {
  /** The MCP endpoint, `http://127.0.0.1:<port>/mcp`. */
  readonly url: string
  readonly origin: string
  readonly port: number
  /** Every request received, in arrival order, with headers exactly as they arrived. */
  readonly requests: RecordedRequest[]
  /** Session ids currently open (stateful mode). */
  sessionIds(): string[]
  close(): Promise<void>
}

function textResult(text: string) {
  return { content: [{ type: 'text' as const, text }] }
}

export function createTestMcpServer(options: { whoami?: boolean } = {}): McpServer {
  const server = new McpServer(
    { name: 'test-backend', version: '1.0.0' },
    { capabilities: { logging: {} } },
  )

  if (options.whoami === true) {
    server.registerTool('whoami', { description: 'Returns the caller the backend verified' }, async (extra) =>
      textResult(JSON.stringify(extra.authInfo?.extra ?? null)),
    )
  }

  server.registerTool(
    'echo',
    { description: 'Returns its text', inputSchema: { text: z.string() } },
    async ({ text }) => textResult(text),
  )
  server.registerTool(
    'add',
    { description: 'Adds two numbers', inputSchema: { a: z.number(), b: z.number() } },
    async ({ a, b }) => textResult(String(a + b)),
  )
  server.registerTool(
    'delete_repo',
    { description: 'Pretends to delete a repository', inputSchema: { name: z.string() } },
    async ({ name }) => textResult(`deleted ${name}`),
  )
  server.registerTool(
    'slow_count',
    {
      description: 'Sends `count` progress and log notifications, `delayMs` apart, then returns',
      inputSchema: {
        count: z.number().int().min(0).max(MAX_SLOW_COUNT),
        delayMs: z.number().int().min(0).max(MAX_SLOW_DELAY_MS),
      },
    },
    async ({ count, delayMs }, extra) => {
      const progressToken = extra._meta?.progressToken
      for (let i = 1; i <= count; i++) {
        if (progressToken !== undefined) {
          await extra.sendNotification({
            method: 'notifications/progress',
            params: { progressToken, progress: i, total: count, message: `count ${i}` },
          })
        }
        await extra.sendNotification({
          method: 'notifications/message',
          params: { level: 'info', logger: 'slow_count', data: `count ${i}` },
        })
        if (delayMs > 0) await sleep(delayMs, undefined, { signal: extra.signal }).catch(() => {})
        if (extra.signal.aborted) break
      }
      return textResult(`counted ${count}`)
    },
  )

  server.registerPrompt(
    'greeting',
    { description: 'Greets someone', argsSchema: { name: z.string() } },
    ({ name }) => ({
      messages: [{ role: 'user' as const, content: { type: 'text' as const, text: `Hello, ${name}!` } }],
    }),
  )
  server.registerPrompt('secret_prompt', { description: 'A prompt only some callers may get' }, () => ({
    messages: [{ role: 'user' as const, content: { type: 'text' as const, text: 'the secret prompt' } }],
  }))

  server.registerResource(
    'readme',
    PUBLIC_RESOURCE_URI,
    { description: 'Public readme', mimeType: 'text/plain' },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'public readme' }] }),
  )
  server.registerResource(
    'keys',
    PRIVATE_RESOURCE_URI,
    { description: 'Private keys', mimeType: 'text/plain' },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'private keys' }] }),
  )

  return server
}

function sendJsonRpcError(res: ServerResponse, status: number, code: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }))
}

export async function startMcpBackend(options: McpBackendOptions = {}): Promise<McpBackend> {
  const mode = options.mode ?? 'stateful'
  const requests: RecordedRequest[] = []
  const sessions = new Map<string, { transport: StreamableHTTPServerTransport; server: McpServer }>()
  const transportOptions = options.enableJsonResponse === undefined ? {} : { enableJsonResponse: options.enableJsonResponse }
  const whoami = options.identify !== undefined

  async function handleStateless(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
    const server = createTestMcpServer({ whoami })
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, ...transportOptions })
    res.on('close', () => {
      void transport.close()
      void server.close()
    })
    await server.connect(transport)
    await transport.handleRequest(req, res, body)
  }

  async function handleStateful(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
    const header = req.headers['mcp-session-id']
    const sessionId = Array.isArray(header) ? header[0] : header
    if (sessionId !== undefined) {
      const session = sessions.get(sessionId)
      if (session === undefined) {
        sendJsonRpcError(res, 404, -32001, 'Session not found')
        return
      }
      await session.transport.handleRequest(req, res, body)
      return
    }
    if (req.method !== 'POST' || !isInitializeRequest(body)) {
      sendJsonRpcError(res, 400, -32000, 'Bad Request: no valid session id')
      return
    }
    const server = createTestMcpServer({ whoami })
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        sessions.set(id, { transport, server })
      },
      ...transportOptions,
    })
    transport.onclose = () => {
      if (transport.sessionId !== undefined) sessions.delete(transport.sessionId)
    }
    await server.connect(transport)
    await transport.handleRequest(req, res, body)
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const record = recordRequest(req)
    requests.push(record)
    const path = new URL(req.url ?? '/', 'http://localhost').pathname
    let body: unknown
    if (req.method === 'POST') {
      record.body = await readBody(req)
      try {
        body = JSON.parse(record.body)
      } catch {
        if (options.intercept === undefined || !(await options.intercept(req, res, undefined))) {
          sendJsonRpcError(res, 400, -32700, 'Parse error')
        }
        return
      }
    }
    if (options.intercept !== undefined && (await options.intercept(req, res, body))) return
    if (options.identify !== undefined) {
      const claims = await options.identify(req)
      if (claims === undefined) {
        sendJsonRpcError(res, 401, -32001, 'caller identity missing or invalid')
        return
      }
      // The SDK hands `req.auth` to tool handlers as `extra.authInfo`.
      ;(req as IncomingMessage & { auth?: AuthInfo }).auth = { token: '', clientId: String(claims['client_id'] ?? ''), scopes: [], extra: claims }
    }
    if (path !== '/mcp') {
      res.writeHead(404, { 'content-type': 'text/plain' })
      res.end('not found')
      return
    }
    if (mode === 'stateless') await handleStateless(req, res, body)
    else await handleStateful(req, res, body)
  }

  const httpServer = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJsonRpcError(res, 500, -32603, `backend failure: ${String(error)}`)
      else res.end()
    })
  })
  const port = await listenOnLoopback(httpServer)
  const origin = `http://127.0.0.1:${port}`

  return {
    url: `${origin}/mcp`,
    origin,
    port,
    requests,
    sessionIds: () => [...sessions.keys()],
    async close() {
      const open = [...sessions.values()]
      sessions.clear()
      await Promise.allSettled(open.flatMap(({ transport, server }) => [transport.close(), server.close()]))
      await closeServer(httpServer)
    },
  }
}

// Kept in its own file (one concept per file) but re-exported so callers find both backends here.
export { startRawBackend } from './raw-backend.js'
export type { RawBackend, RawHandler } from './raw-backend.js'
