import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { listen } from '../server/listen.js'
import { isTooLarge, readBody } from '../server/read-body.js'

/**
 * A minimal, hand-written MCP server over Streamable HTTP, with no SDK and no session state.
 * It is the demo's backend and the benchmark's direct baseline, so everything that can be
 * computed once (tool list, discover result, initialize results) is serialized at load time and
 * a request costs one body parse plus one string concatenation.
 */

export interface DemoBackendOptions {
  host?: string
  port?: number
  /** Always answer requests as a one-event `text/event-stream`, whatever `Accept` says. */
  sse?: boolean
  /** Path of the MCP endpoint. */
  path?: string
}

export interface DemoBackend {
  /** The MCP endpoint, e.g. `http://127.0.0.1:9401/mcp`. */
  url: string
  close(): Promise<void>
}

const LEGACY_VERSIONS = ['2025-03-26', '2025-06-18', '2025-11-25'] as const
const LATEST_LEGACY_VERSION = '2025-11-25'
const MODERN_VERSION = '2026-07-28'
const META_VERSION_KEY = 'io.modelcontextprotocol/protocolVersion'
const BODY_LIMIT = 1024 * 1024

const SERVER_INFO = { name: 'mcp-resource-gateway-demo-backend', version: '0.1.0' }
const CAPABILITIES = { tools: { listChanged: false } }

const TOOLS = [
  {
    name: 'echo',
    title: 'Echo',
    description: 'Returns the text it is given.',
    inputSchema: {
      type: 'object',
      properties: { text: { type: 'string', description: 'Text to echo back' } },
      required: ['text'],
      additionalProperties: false,
    },
  },
  {
    name: 'add',
    title: 'Add',
    description: 'Adds two numbers.',
    inputSchema: {
      type: 'object',
      properties: { a: { type: 'number' }, b: { type: 'number' } },
      required: ['a', 'b'],
      additionalProperties: false,
    },
  },
]

// 2026-07-28 results carry `resultType` (basic/index.mdx §Statelessness) and SHOULD carry the
// server info in `result._meta`; list and discover results also need `ttlMs` and `cacheScope`
// (server/utilities/caching.mdx). This list is the same for every caller, hence "public".
const MODERN_META = { 'io.modelcontextprotocol/serverInfo': SERVER_INFO }
const CACHE_HINTS = { ttlMs: 60_000, cacheScope: 'public' }

const TOOLS_LIST_LEGACY = JSON.stringify({ tools: TOOLS })
const TOOLS_LIST_MODERN = JSON.stringify({
  tools: TOOLS,
  _meta: MODERN_META,
  resultType: 'complete',
  ...CACHE_HINTS,
})
const EMPTY_LEGACY = '{}'
const EMPTY_MODERN = JSON.stringify({ _meta: MODERN_META, resultType: 'complete' })
const DISCOVER_RESULT = JSON.stringify({
  supportedVersions: [...LEGACY_VERSIONS, MODERN_VERSION],
  capabilities: CAPABILITIES,
  instructions: 'Demo backend: tools echo and add.',
  _meta: MODERN_META,
  resultType: 'complete',
  ...CACHE_HINTS,
})
const INITIALIZE_RESULTS = new Map<string, string>(
  LEGACY_VERSIONS.map((v) => [
    v,
    JSON.stringify({ protocolVersion: v, capabilities: CAPABILITIES, serverInfo: SERVER_INFO }),
  ]),
)

const PARSE_ERROR = '{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}'

type Id = string | number | null

/** One message's answer: a serialized JSON-RPC response, or none for a notification/response. */
interface Answer {
  json: string | undefined
  /** 2026-07-28 answers an unknown method with HTTP 404 (streamable-http.mdx, Method not implemented). */
  notFound?: boolean
}

const NO_ANSWER: Answer = { json: undefined }

function result(id: Id, json: string): string {
  return `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":${json}}`
}

function error(id: Id, code: number, message: string): string {
  return `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"error":{"code":${code},"message":${JSON.stringify(message)}}}`
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function toolResult(text: string, isError: boolean, modern: boolean): string {
  const content = [{ type: 'text', text }]
  const body: Record<string, unknown> = isError ? { content, isError: true } : { content }
  if (modern) {
    body['_meta'] = MODERN_META
    body['resultType'] = 'complete'
  }
  return JSON.stringify(body)
}

function callTool(id: Id, params: Record<string, unknown>, modern: boolean): string {
  const args = isObject(params['arguments']) ? params['arguments'] : {}
  switch (params['name']) {
    case 'echo': {
      const text = args['text']
      // Bad arguments are a tool execution error, not a protocol error (2025-11-25 server/tools
      // §Error Handling), so a model can read the message and retry.
      if (typeof text !== 'string') return result(id, toolResult('echo needs a string "text"', true, modern))
      return result(id, toolResult(text, false, modern))
    }
    case 'add': {
      const a = args['a']
      const b = args['b']
      if (typeof a !== 'number' || typeof b !== 'number' || !Number.isFinite(a) || !Number.isFinite(b)) {
        return result(id, toolResult('add needs numbers "a" and "b"', true, modern))
      }
      return result(id, toolResult(String(a + b), false, modern))
    }
    default:
      return error(id, -32602, `Unknown tool: ${String(params['name'])}`)
  }
}

function answer(msg: unknown): Answer {
  if (!isObject(msg) || msg['jsonrpc'] !== '2.0') {
    return { json: error(null, -32600, 'Invalid Request') }
  }
  const method = msg['method']
  const hasId = 'id' in msg
  const rawId = msg['id']
  const id: Id = typeof rawId === 'string' || typeof rawId === 'number' ? rawId : null
  if (typeof method !== 'string') {
    // A client's JSON-RPC response (legacy answer to a server request): accepted, nothing to say.
    if (hasId && ('result' in msg || 'error' in msg)) return NO_ANSWER
    return { json: error(id, -32600, 'Invalid Request') }
  }
  if (!hasId) return NO_ANSWER // notifications/* and any other notification: 202

  const params = isObject(msg['params']) ? msg['params'] : {}
  const meta = params['_meta']
  const modern = isObject(meta) && typeof meta[META_VERSION_KEY] === 'string'

  switch (method) {
    case 'initialize': {
      const asked = params['protocolVersion']
      const chosen = (typeof asked === 'string' && INITIALIZE_RESULTS.get(asked)) || INITIALIZE_RESULTS.get(LATEST_LEGACY_VERSION)
      return { json: result(id, chosen as string) }
    }
    case 'ping':
      return { json: result(id, modern ? EMPTY_MODERN : EMPTY_LEGACY) }
    case 'tools/list':
      return { json: result(id, modern ? TOOLS_LIST_MODERN : TOOLS_LIST_LEGACY) }
    case 'tools/call':
      return { json: callTool(id, params, modern) }
    case 'server/discover':
      return { json: result(id, DISCOVER_RESULT) }
    default:
      return { json: error(id, -32601, 'Method not found'), notFound: modern }
  }
}

function wantsSse(req: IncomingMessage, forceSse: boolean): boolean {
  if (forceSse) return true
  const accept = req.headers.accept
  return accept !== undefined && accept.includes('text/event-stream') && !accept.includes('application/json')
}

function send(res: ServerResponse, status: number, json: string, sse: boolean): void {
  if (sse) {
    // One event, then the stream ends: the request-scoped stream of streamable-http.mdx.
    const body = `event: message\ndata: ${json}\n\n`
    res.writeHead(status, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'content-length': Buffer.byteLength(body),
    })
    res.end(body)
    return
  }
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) })
  res.end(json)
}

async function handlePost(req: IncomingMessage, res: ServerResponse, forceSse: boolean): Promise<void> {
  let text: string
  try {
    text = (await readBody(req, BODY_LIMIT)).toString('utf8')
  } catch (err) {
    if (isTooLarge(err)) {
      res.writeHead(413, { connection: 'close' }).end()
    } else {
      res.destroy()
    }
    return
  }
  let msg: unknown
  try {
    msg = JSON.parse(text)
  } catch {
    send(res, 400, PARSE_ERROR, false)
    return
  }
  const sse = wantsSse(req, forceSse)

  if (Array.isArray(msg)) {
    // JSON-RPC batches exist only in 2025-03-26; the answer is an array of the responses, and a
    // batch of notifications only gets 202 (2025-03-26 transports §Sending Messages).
    if (msg.length === 0) {
      send(res, 400, error(null, -32600, 'Invalid Request'), false)
      return
    }
    const parts: string[] = []
    for (const m of msg) {
      const a = answer(m)
      if (a.json !== undefined) parts.push(a.json)
    }
    if (parts.length === 0) res.writeHead(202).end()
    else send(res, 200, `[${parts.join(',')}]`, sse)
    return
  }

  const a = answer(msg)
  if (a.json === undefined) res.writeHead(202).end()
  else send(res, a.notFound === true ? 404 : 200, a.json, sse)
}

/** Starts the demo MCP backend on `host:port` (default 127.0.0.1, a random port). */
export async function startDemoBackend(options: DemoBackendOptions = {}): Promise<DemoBackend> {
  const host = options.host ?? '127.0.0.1'
  const path = options.path ?? '/mcp'
  const forceSse = options.sse === true

  const server = createServer((req, res) => {
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const reqPath = q === -1 ? url : url.slice(0, q)
    if (reqPath !== path) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
      return
    }
    if (req.method !== 'POST') {
      // No standalone GET stream and no sessions to DELETE: 405 is the stateless answer
      // (2026-07-28 streamable-http.mdx §Backward Compatibility; allowed by earlier versions).
      res.writeHead(405, { allow: 'POST' }).end()
      return
    }
    handlePost(req, res, forceSse).catch(() => res.destroy())
  })
  // Longer than a proxy's pool idle time, so the gateway's kept-alive sockets are not cut under it.
  server.keepAliveTimeout = 65_000

  const { host: hostForUrl, port } = await listen(server, options.port ?? 0, host)

  return {
    url: `http://${hostForUrl}:${port}${path}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()))
        server.closeAllConnections()
      }),
  }
}
