import { mkdtemp, rm } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import type { ClientRequest, IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { JWTPayload } from 'jose'
import { loadConfig } from '../../src/config/load.js'
import type { Config } from '../../src/config/normalize.js'
import { reservePort } from '../../src/demo/reserve-port.js'
import { startGateway } from '../../src/server/http.js'
import type { RunningGateway } from '../../src/server/http.js'
import { startAuthorizationServer } from './authorization-server.js'
import type { AuthorizationServer, AuthorizationServerOptions, ResourceOptions } from './authorization-server.js'
import { startMcpBackend } from './mcp-backend.js'
import type { McpBackend, McpBackendOptions } from './mcp-backend.js'
import { accessTokenClaims, createTestKeys, mintJwt } from './tokens.js'
import type { TestKeys } from './tokens.js'

/**
 * A gateway under test, built the way `serve` builds it: `loadConfig` from MCP_* variables, then
 * `startGateway`. The canonical URI names the port the gateway really listens on (reserved
 * first), so tokens minted for it and the SDK client's resource check both line up.
 */

/** Overrides for the MCP_* environment; `undefined` removes a default. */
export type GatewayEnv = Record<string, string | undefined>

export interface TestGatewayOptions {
  env: GatewayEnv
  /** Path of the canonical URI. Default `/mcp`. */
  path?: string
  /** A port reserved beforehand (when the canonical URI had to be known first). */
  port?: number
  /** Command-line arguments (`--config file.yaml`). */
  argv?: string[]
}

export interface TestGateway {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string
  /** `http://127.0.0.1:<port><path>`: the MCP endpoint, the token audience, the metadata `resource`. */
  readonly canonicalUri: string
  readonly config: Config
  readonly running: RunningGateway
  close(): Promise<void>
}

/** A port taken between reservation and listen is retried on a fresh one, a bounded number of times. */
const LISTEN_ATTEMPTS = 3

export async function startTestGateway(options: TestGatewayOptions): Promise<TestGateway> {
  const path = options.path ?? '/mcp'
  for (let attempt = 1; ; attempt++) {
    const port = attempt === 1 && options.port !== undefined ? options.port : await reservePort()
    const canonicalUri = `http://127.0.0.1:${port}${path}`
    const env = withoutUndefined({
      MCP_LISTEN_HOST: '127.0.0.1',
      MCP_LISTEN_PORT: String(port),
      MCP_CANONICAL_URI: canonicalUri,
      ...options.env,
    })
    const config = await loadConfig({ env, argv: options.argv ?? [] })
    try {
      const running = await startGateway(config)
      return { url: running.url, canonicalUri: config.resource.canonicalUri, config, running, close: () => running.close() }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= LISTEN_ATTEMPTS) throw error
    }
  }
}

function withoutUndefined(env: GatewayEnv): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(env)) if (value !== undefined) out[name] = value
  return out
}

export interface GatewayStackOptions {
  /** Scopes the authorization server may grant for the gateway's resource. Default `mcp:read mcp:write`. */
  asScope?: string
  /** Where the gateway gets its keys: the AS's `jwks_uri` (default) or discovery from the issuer. */
  keys?: 'jwks-uri' | 'discovery'
  /** Options of the SDK backend (default: stateful). */
  backend?: McpBackendOptions
  /** MCP_* overrides, applied last. */
  env?: GatewayEnv
  path?: string
  authorizationServer?: Omit<AuthorizationServerOptions, 'resources'>
  /** Other resources the AS issues tokens for (wrong-audience tests, downstream APIs). */
  extraResources?: Record<string, ResourceOptions>
  /** Command-line arguments for the gateway (`--config file.yaml`). */
  argv?: string[]
}

export interface GatewayStack {
  readonly as: AuthorizationServer
  readonly backend: McpBackend
  readonly gateway: TestGateway
  /** A client_credentials access token (JWT) for the gateway's canonical URI. */
  token(scope?: string): Promise<string>
  close(): Promise<void>
}

/** oidc-provider as the AS, the SDK MCP server as the backend, and the gateway between. */
export async function startGatewayStack(options: GatewayStackOptions = {}): Promise<GatewayStack> {
  const path = options.path ?? '/mcp'
  const port = await reservePort()
  const canonicalUri = `http://127.0.0.1:${port}${path}`
  const asScope = options.asScope ?? 'mcp:read mcp:write'
  const as = await startAuthorizationServer({
    ...options.authorizationServer,
    resources: { ...options.extraResources, [canonicalUri]: { scope: asScope, format: 'jwt' } },
  })
  const backend = await startMcpBackend(options.backend)
  let gateway: TestGateway
  try {
    gateway = await startTestGateway({
      port,
      path,
      ...(options.argv === undefined ? {} : { argv: options.argv }),
      env: {
        MCP_AUTHORIZATION_SERVER: as.issuer,
        ...(options.keys === 'discovery' ? { MCP_JWT_DISCOVERY: 'on' } : { MCP_JWKS_URI: as.jwksUri }),
        MCP_BACKEND: backend.origin,
        MCP_SCOPES_SUPPORTED: asScope,
        ...options.env,
      },
    })
  } catch (error) {
    await Promise.allSettled([as.close(), backend.close()])
    throw error
  }
  if (gateway.canonicalUri !== canonicalUri) {
    // The reserved port was taken: the AS only issues tokens for the URI it was started with.
    await Promise.allSettled([gateway.close(), as.close(), backend.close()])
    throw new Error(`port ${port} was taken before the gateway could listen; rerun`)
  }
  return {
    as,
    backend,
    gateway,
    token: (scope = asScope) => as.clientCredentialsToken({ resource: canonicalUri, scope }),
    async close() {
      await gateway.close()
      await Promise.allSettled([as.close(), backend.close()])
    },
  }
}

export interface KeyFileGatewayOptions {
  /** `MCP_BACKEND`: an origin or host:port. */
  backend: string
  /** MCP_* overrides, applied last. */
  env?: GatewayEnv
  path?: string
  /** A port reserved beforehand, when a setting must name it (`MCP_METADATA_URI`). */
  port?: number
  /** Default `https://issuer.test` (never fetched: the keys come from the file). */
  issuer?: string
}

export interface KeyFileGateway extends TestGateway {
  readonly keys: TestKeys
  readonly issuer: string
  /** An RS256 access token for this gateway (`scope` `mcp:read mcp:write`), claims overridable. */
  token(overrides?: Partial<JWTPayload>): Promise<string>
}

/** A gateway that trusts test keys from a JWKS file (MCP_JWT_KEY_FILE): no AS needed, tokens from tokens.ts. */
export async function startKeyFileGateway(options: KeyFileGatewayOptions): Promise<KeyFileGateway> {
  const issuer = options.issuer ?? 'https://issuer.test'
  const keys = await createTestKeys()
  const temp = await makeTempDir()
  let gateway: TestGateway
  try {
    gateway = await startTestGateway({
      ...(options.path === undefined ? {} : { path: options.path }),
      ...(options.port === undefined ? {} : { port: options.port }),
      env: {
        MCP_AUTHORIZATION_SERVER: issuer,
        MCP_JWT_KEY_FILE: await keys.writeJwksFile(temp.dir),
        MCP_BACKEND: options.backend,
        ...options.env,
      },
    })
  } catch (error) {
    await temp.remove()
    throw error
  }
  return {
    ...gateway,
    keys,
    issuer,
    token: (overrides = {}) =>
      mintJwt({
        key: keys.rsa,
        claims: {
          ...accessTokenClaims({ issuer, audience: gateway.canonicalUri, scope: 'mcp:read mcp:write' }),
          ...overrides,
        },
      }),
    async close() {
      await gateway.close()
      await temp.remove()
    },
  }
}

/** A temporary directory removed by the returned `remove`. */
export async function makeTempDir(prefix = 'mcp-gateway-test-'): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) }
}

export interface RawResponse {
  status: number
  headers: IncomingHttpHeaders
  /** Names and values in wire order, so repeated header lines can be counted. */
  rawHeaders: string[]
  body: string
}

export interface SendOptions {
  method?: string
  /** An object, or a flat `[name, value, name, value]` list to send repeated headers. */
  headers?: OutgoingHttpHeaders | string[]
  body?: string | Buffer
  /** Bounds the whole exchange. Default 10 s. */
  timeoutMs?: number
  /** The request target sent as written (`/mcp/../x`), where the URL's own would be normalised. */
  path?: string
}

/** One HTTP exchange with node:http, so tests see raw header lines (fetch joins repeated ones). */
export function send(url: string, options: SendOptions = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    let headers = options.headers
    if (Array.isArray(headers)) {
      const list: string[] = headers
      const has = (name: string) => list.some((h, i) => i % 2 === 0 && h.toLowerCase() === name)
      // node:http adds neither Host nor Content-Length to a raw header list (it sends the body
      // chunked), and an HTTP/1.1 server answers 400 without a Host.
      const added: string[] = []
      if (!has('host')) added.push('host', new URL(url).host)
      if (options.body !== undefined && !has('content-length') && !has('transfer-encoding')) {
        added.push('content-length', String(Buffer.byteLength(options.body)))
      }
      headers = [...added, ...headers]
    }
    const req = httpRequest(url, {
      method: options.method ?? 'GET',
      headers: headers as OutgoingHttpHeaders,
      ...(options.path === undefined ? {} : { path: options.path }),
      agent: false,
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    })
    req.once('error', reject)
    req.once('response', (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.once('error', reject)
      res.once('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      )
    })
    req.end(options.body)
  })
}

export interface OpenRequest {
  readonly request: ClientRequest
  /** Resolves with the response head; the body is left for the caller to read (streams, timing). */
  readonly response: Promise<IncomingMessage>
}

/**
 * Starts a request and hands back both ends without reading the body, for SSE timing and
 * disconnect tests. `body` chunks are written in order (a list makes node send it chunked).
 */
export function openRequest(
  url: string,
  options: { method?: string; headers?: OutgoingHttpHeaders; body?: string | readonly (string | Buffer)[] } = {},
): OpenRequest {
  const request = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers, agent: false })
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    request.once('response', resolve)
    request.once('error', reject)
  })
  // A test that destroys the request on purpose does not want an unhandled rejection.
  response.catch(() => {})
  if (typeof options.body === 'string') request.end(options.body)
  else if (options.body !== undefined) {
    for (const chunk of options.body) request.write(chunk)
    request.end()
  } else request.end()
  return { request, response }
}

/** Every value of header `name` (case-insensitive) as separate lines on the wire. */
export function headerLines(response: RawResponse, name: string): string[] {
  const lines: string[] = []
  for (let i = 0; i < response.rawHeaders.length; i += 2) {
    if (response.rawHeaders[i]?.toLowerCase() === name.toLowerCase()) lines.push(response.rawHeaders[i + 1] as string)
  }
  return lines
}

/** A JSON-RPC `initialize` the SDK backend answers without a session. */
export const INITIALIZE_BODY = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'gateway-test', version: '1.0.0' } },
})

/** Headers an MCP POST needs (Streamable HTTP accepts both answer forms), plus any extra. */
export function mcpHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...extra }
}

/** POSTs `initialize` to the MCP endpoint with the given Authorization header (or none). */
export function postMcp(gateway: TestGateway, authorization?: string | string[], body = INITIALIZE_BODY): Promise<RawResponse> {
  const headers: string[] = []
  for (const [name, value] of Object.entries(mcpHeaders())) headers.push(name, value)
  const values = authorization === undefined ? [] : Array.isArray(authorization) ? authorization : [authorization]
  for (const value of values) headers.push('authorization', value)
  return send(gatewayMcpUrl(gateway), { method: 'POST', headers, body })
}

/** The MCP endpoint on the address the gateway listens on. */
export function gatewayMcpUrl(gateway: TestGateway): string {
  return `${gateway.url}${new URL(gateway.canonicalUri).pathname}`
}

/** Waits (bounded) until `check` holds, polling every `intervalMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000, intervalMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

/** The default `senderConstraint.dpopAlgorithms`, as a DPoP challenge's `algs` names them. */
export const DEFAULT_DPOP_ALGS = 'ES256 EdDSA RS256 PS256'

/**
 * The `WWW-Authenticate` lines of a 401 with DPoP on (the default `senderConstraint.dpop:
 * optional`): the Bearer challenge, then a bare DPoP challenge with the same `scope` and
 * `resource_metadata` (RFC 9449 §7.1).
 */
export function withDpopChallenge(bearer: string, algs = DEFAULT_DPOP_ALGS): string[] {
  const metadata = /resource_metadata="([^"]*)"/.exec(bearer)?.[1]
  const scope = /scope="([^"]*)"/.exec(bearer)?.[1]
  const params = [
    ...(metadata === undefined ? [] : [`resource_metadata="${metadata}"`]),
    ...(scope === undefined ? [] : [`scope="${scope}"`]),
    `algs="${algs}"`,
  ]
  return [bearer, `DPoP ${params.join(', ')}`]
}
