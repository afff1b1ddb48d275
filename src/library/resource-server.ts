import type { IncomingHttpHeaders } from 'node:http'
import { GatewayError } from '../errors.js'
import type { HeaderMap } from '../jsonrpc/header-value.js'
import { metadataDocumentOf } from '../server/metadata-document.js'
import { events } from '../observability/events.js'
import { listFilterFor, type ListFilter } from '../policy/filter-list.js'
import type { ProtocolVersion } from '../jsonrpc/protocol-version.js'
import { compilePolicy } from '../policy/rules.js'
import { checkOrigin } from '../server/cors.js'
import type { McpCall } from '../jsonrpc/mcp-call.js'
import { createMcpAuthorizer } from '../server/mcp-authorizer.js'
import { metadataAnswer, refusalOf, type Answer } from '../server/respond.js'
import { extractBearerToken } from '../token/bearer.js'
import { createVerifier } from '../token/create-verifier.js'
import type { Principal } from '../token/principal.js'
import { authInfoOf, type McpAuthInfo } from './auth-info.js'
import { readLibraryEnv } from './env.js'
import { resolveOptions, type ResourceServerConfig, type ResourceServerOptions } from './options.js'
import { checkAuthorizationServers } from './preflight.js'

/** Request headers as node:http (lower-case names) or the Fetch API gives them. */
export type HeaderSource = IncomingHttpHeaders | HeaderMap | Headers

/** A caller whose token was verified. */
export interface Authenticated {
  readonly principal: Principal
  /** For `req.auth`: the MCP SDK's `AuthInfo` shape. */
  readonly auth: McpAuthInfo
}

/**
 * The gateway's checks for an MCP server that runs in the same process: each step usable alone,
 * each refusal a typed `GatewayError` that `refusal` turns into the gateway's exact answer. The
 * framework adapters (`mcp-resource-gateway/node`, `/express`, `/fastify`, `/hono`) are thin
 * files over these.
 */
export interface ResourceServer {
  readonly config: ResourceServerConfig
  /** Whether a request path is the protected MCP location (the resource path or below it). */
  protects(path: string): boolean
  /**
   * `Origin` (MCP transports §Security: an invalid one is 403 `ForbiddenOrigin`), then the RFC 6750
   * §2.1 header -> verified principal; throws `MissingCredentials`/`InvalidToken`/...
   */
  authenticate(headers: HeaderSource): Promise<Authenticated>
  /**
   * Required scopes, then per method and per tool/prompt/resource (step-up: `InsufficientScope`,
   * 403). `body` is the POST body (bytes, text, or the JSON a framework already parsed);
   * `undefined` for GET and DELETE, which need the required scopes only.
   */
  authorize(principal: Principal, body: unknown, headers: HeaderSource): McpCall | undefined
  /** The refusal of `error` exactly as the gateway answers it; any other error is a plain 500. */
  refusal(error: unknown): Answer
  /** The RFC 9728 document served at `path`, or `undefined` when `path` is not a metadata URL. */
  metadata(path: string): string | undefined
  /** The whole answer at a metadata URL (`metadata` plus CORS, caching, HEAD and 405). */
  metadataAnswer(path: string, method: string | undefined, headers: HeaderSource): Answer | undefined
  /** What to hide in the responses to one MCP message's list requests, for `filterListResponses`. */
  listFilter(principal: Principal, message: unknown, headers: HeaderSource): { filter: ListFilter; version: ProtocolVersion } | undefined
  close(): Promise<void>
}

/**
 * Validates the options (every problem at once, as a `ConfigError`), loads each authorization
 * server's discovery document and JWKS (rejecting with `AuthorizationServerUnavailable`, naming
 * the URL and the cause, when one cannot be loaded) and returns the core.
 *
 * @example
 * const rs = await createResourceServer({
 *   resource: 'https://mcp.example.com/mcp',
 *   authorizationServers: [{ issuer: 'https://auth.example.com' }],
 *   scopes: { required: ['mcp:tools'], tools: { delete_repo: ['repo:admin'] } },
 * })
 */
export async function createResourceServer(options: ResourceServerOptions): Promise<ResourceServer> {
  return start(resolveOptions(options))
}

/**
 * The same, from the environment: the `MCP_*` variables (docs/configuration.md) and the MCP server
 * template's `OAUTH_ISSUER_URL` and `OAUTH_AUDIENCE`, layered over `options`.
 */
createResourceServer.fromEnv = async function fromEnv(
  env: Readonly<Record<string, string | undefined>>,
  options: Partial<ResourceServerOptions> = {},
): Promise<ResourceServer> {
  const read = readLibraryEnv(env, options)
  return start(resolveOptions(read.options, read.from))
}

async function start(config: ResourceServerConfig): Promise<ResourceServer> {
  for (const message of config.notices) events.notice.publish({ level: 'warn', message })
  await checkAuthorizationServers(config.authorizationServers)
  const verifier = createVerifier(config)
  await verifier.warmUp?.()
  return createCore(config, verifier)
}

function createCore(config: ResourceServerConfig, verifier: ReturnType<typeof createVerifier>): ResourceServer {
  const authorizer = createMcpAuthorizer(config)
  const policy = compilePolicy(config.scopes)
  const challenge = { resourceMetadata: config.resource.metadataUri, scope401: authorizer.challengeScope }
  const metadataPaths = new Set(config.resource.metadataPaths)
  const document = metadataDocumentOf(config, authorizer.scopesSupported)
  const resourcePath = config.resource.path
  const base = resourcePath === '/' ? '' : resourcePath.replace(/\/$/, '')

  return {
    config,
    protects(path) {
      if (metadataPaths.has(path)) return false
      return path === base || path === resourcePath || (path.startsWith(base) && path[base.length] === '/')
    },
    async authenticate(headers) {
      const origin = headerOf(headers, 'origin')
      checkOrigin(Array.isArray(origin) ? origin.join(', ') : origin, config.origins)
      const token = extractBearerToken(headerOf(headers, 'authorization'))
      const principal = verifier.verifyCached?.(token) ?? (await verifier.verify(token))
      return { principal, auth: authInfoOf(principal, token, config.resource.canonicalUri) }
    },
    authorize(principal, body, headers) {
      if (body === undefined) {
        authorizer.authorize(principal, undefined)
        return undefined
      }
      const call = authorizer.readCall(bytesOf(body), plainHeaders(headers))
      authorizer.authorize(principal, call)
      return call
    },
    refusal(error) {
      if (error instanceof GatewayError) return refusalOf(error, challenge)
      if (events.notice.hasSubscribers) {
        events.notice.publish({ level: 'error', message: `unexpected error: ${(error as Error)?.stack ?? String(error)}` })
      }
      return refusalOf(new GatewayError(500, 'internal', 'Internal error', undefined, { cause: error }), challenge)
    },
    metadata: (path) => (metadataPaths.has(path) ? document : undefined),
    metadataAnswer(path, method, headers) {
      if (!metadataPaths.has(path)) return undefined
      const requested = headerOf(headers, 'access-control-request-headers')
      return metadataAnswer(method, document, Array.isArray(requested) ? requested.join(', ') : requested)
    },
    listFilter(principal, message, headers) {
      // With list filtering off, no message is read again.
      if (!policy.filterLists) return undefined
      const call = authorizer.readCall(bytesOf(message), plainHeaders(headers))
      const filter = listFilterFor(policy, principal, call.request)
      return filter === undefined ? undefined : { filter, version: call.protocolVersion }
    },
    close: async () => verifier.close?.(),
  }
}

function isFetchHeaders(headers: HeaderSource): headers is Headers {
  return typeof (headers as Headers).get === 'function' && typeof (headers as Headers).entries === 'function'
}

function headerOf(headers: HeaderSource, name: string): string | string[] | undefined {
  if (isFetchHeaders(headers)) return headers.get(name) ?? undefined
  return headers[name]
}

function plainHeaders(headers: HeaderSource): HeaderMap {
  return isFetchHeaders(headers) ? Object.fromEntries(headers.entries()) : headers
}

/** The body as bytes: as received, or the JSON a framework's body parser already made of it. */
function bytesOf(body: unknown): Buffer {
  if (Buffer.isBuffer(body)) return body
  if (typeof body === 'string') return Buffer.from(body, 'utf8')
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  return Buffer.from(JSON.stringify(body) ?? '', 'utf8')
}
