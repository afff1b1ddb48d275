import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Config } from '../config/normalize.js'
import { GatewayError, type FailureReason, type UpstreamError } from '../errors.js'
import { buildProtectedResourceMetadata } from '../metadata/protected-resource.js'
import { events, type DecisionEvent } from '../observability/events.js'
import type { Forwarder, Forwarding, ForwardListener, ResponseRewriter } from '../proxy/forward.js'
import { checkTokenOnlyInHeader, extractBearerToken } from '../token/bearer.js'
import type { Principal, TokenVerifier } from '../token/principal.js'
import { checkOrigin, setCorsHeaders, writePreflight } from './cors.js'
import { readRequestBody } from './read-body.js'
import { refuseRequestHead } from './request-head.js'
import { writeError, writeJson, type ChallengeContext } from './respond.js'
import { createRouter } from './routes.js'
import type { McpAuthorizer, McpCall } from './mcp-authorizer.js'
import type { Lockout } from '../lockout/lockout.js'
import type { Revocations } from '../revocation/revocations.js'
import { watchStream } from './stream-lifetime.js'

export interface GatewayParts {
  config: Config
  verifier: TokenVerifier
  forwarder: Forwarder
  authorizer: McpAuthorizer
  /** Extra routes served before the MCP path (`/metrics` when on the main port). */
  extraRoutes?: ReadonlyMap<string, (req: IncomingMessage, res: ServerResponse) => void>
  /** After authorization, before forwarding (rate limits); throws a `GatewayError` to refuse. */
  /** Resolves headers to add to the forwarded response (`RateLimit-*`), if any. */
  admit?: (principal: Principal, call: McpCall | undefined) => Promise<Readonly<Record<string, string>> | void>
  /** Revoked tokens (401) and the streams they opened (ended). */
  revocations?: Revocations | undefined
  /** Failed-authentication lockout per client address (429 before any token work). */
  lockout?: Lockout | undefined
}

/** Per-request state carried through the steps and into the decision event. */
class Exchange implements ForwardListener {
  readonly started = performance.now()
  principal: Principal | undefined = undefined
  call: McpCall | undefined = undefined
  reason: FailureReason | undefined = undefined
  upstreamMs: number | undefined = undefined
  /** When forwarding began: a response that closes early (client gone) still says how long the backend had it. */
  upstreamStarted: number | undefined = undefined
  forwarding: Forwarding | undefined = undefined
  /** The bearer token, kept for the life of an event stream it opened (its revocation ends it). */
  token: string | undefined = undefined
  /** Stops watching an event stream's token (its deadline timer, its revocation). */
  unwatch: (() => void) | undefined = undefined

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly id: string,
    readonly refuse: (exchange: Exchange, error: unknown) => void,
    readonly onStream: (exchange: Exchange) => void,
  ) {}

  streaming(): void {
    this.onStream(this)
  }

  forwarded(upstreamMs: number): void {
    this.upstreamMs = upstreamMs
  }

  failed(error: UpstreamError): void {
    this.refuse(this, error)
  }

  /** The response's one 'close' listener: a forwarding learns the client is gone, then the decision goes out. */
  closed(): void {
    this.unwatch?.()
    this.forwarding?.clientClosed()
    emitDecision(this)
  }
}

/**
 * A request's way through the gateway (DESIGN.md "The request's way through"):
 *
 *   1. checkHead        one Host (RFC 9112 §3.2); a path without dot or empty segments, backslashes
 *                       or encoded dots and slashes, else 400 before routing, for every route
 *   2. route            metadata | health | readiness | extra | MCP path | 404
 *   3. checkOrigin      invalid Origin: 403; CORS preflight answered without a token
 *   4. checkHttpMethod  405 with `Allow`, per protocol version
 *   5. checkLockout     an address blocked for refused tokens: 429, before any token work
 *   6. extractToken     RFC 6750 §2.1 header only; `access_token` in the query or a form body: 400
 *   7. verifyToken      signature/claims or introspection, then audience and issuer; then revocation
 *   8. readMcpRequest   bounded body, protocol version, Mcp-Method/Mcp-Name against the body
 *   9. authorize        required scopes, per method, per tool/prompt/resource
 *  10. admit            rate limits (after authentication: a bad token is a 401, never a 429)
 *  11. forward          no Authorization (nor Cookie, unless asked) upstream; streamed both ways;
 *                       lists filtered if asked; an event stream ends with its token
 *  12. emitDecision     one event per request, consumed by logs, metrics and the audit trail
 */
export function createGatewayHandler(parts: GatewayParts): (req: IncomingMessage, res: ServerResponse) => void {
  const { config, verifier, forwarder, authorizer, revocations, lockout } = parts
  const onStream = watchStream(config, revocations)
  const metadataDocument = buildProtectedResourceMetadata({
    resource: config.resource.canonicalUri,
    authorizationServers: config.authorizationServers.map((as) => as.issuer),
    scopesSupported: authorizer.scopesSupported,
    bearerMethodsSupported: config.resource.bearerMethodsSupported,
    resourceDocumentation: config.resource.documentation,
    resourceName: config.resource.name,
  })
  const challenge: ChallengeContext = {
    resourceMetadata: config.resource.metadataUri,
    scope401: authorizer.challengeScope,
  }
  const route = createRouter({
    resourcePath: config.resource.path,
    metadataPaths: config.resource.metadataPaths,
    extra: parts.extraRoutes,
  })

  return function handleRequest(req, res) {
    const exchange = new Exchange(req, res, requestId(req), refuse, onStream)
    // 'close' is emitted once: `on` spares the once-wrapper.
    res.on('close', () => exchange.closed())
    const refused = refuseRequestHead(req)
    if (refused !== undefined) return refuse(exchange, refused)
    const target = route(req)
    // The MCP path adds `X-Request-Id` with its answer (forwarded or refused), every other route here.
    if (target.kind !== 'mcp') res.setHeader('x-request-id', exchange.id)
    switch (target.kind) {
      case 'metadata':
        return serveMetadata(req, res, metadataDocument)
      case 'health':
        return writeJson(res, 200, '{"status":"ok"}')
      case 'ready':
        return void serveReadiness(res)
      case 'extra':
        return target.handler(req, res)
      case 'not_found':
        exchange.reason = 'not_found'
        return writeJson(res, 404, '{"error":"not_found"}')
      case 'mcp':
        return void handleMcp(exchange).catch((error: unknown) => refuse(exchange, error))
    }
  }

  async function handleMcp(exchange: Exchange): Promise<void> {
    const { req, res } = exchange
    const origin = checkOrigin(req, config.origins)
    if (req.method === 'OPTIONS') {
      res.setHeader('x-request-id', exchange.id)
      return writePreflight(req, res, origin)
    }
    if (origin !== undefined) setCorsHeaders(res, origin)
    authorizer.checkHttpMethod(req.method ?? '', req.headers)
    // With nothing blocked the address is not even read.
    if (lockout !== undefined && lockout.blocked.size > 0) lockout.check(lockout.address(req))

    checkTokenOnlyInHeader(req.url ?? '/', req.headers['content-type'])
    const token = extractBearerToken(authorizationHeader(req))
    // A token verified before costs no promise round trip (its cache entry is checked as verify would).
    exchange.principal = verifier.verifyCached?.(token) ?? (await verifier.verify(token))
    exchange.token = token
    revocations?.check(exchange.principal, token)

    let body: Buffer | undefined
    if (req.method === 'POST') {
      body = await readRequestBody(req, config.limits.maxBodySize)
      exchange.call = authorizer.readCall(body, req.headers)
    }
    authorizer.authorize(exchange.principal, exchange.call)

    if (parts.admit !== undefined) {
      const admitted = await parts.admit(exchange.principal, exchange.call)
      if (admitted) for (const name in admitted) res.setHeader(name, admitted[name] as string)
    }

    const rewrite: ResponseRewriter | undefined = authorizer.responseRewriter(exchange.principal, exchange.call)
    exchange.upstreamStarted = performance.now()
    // How it ends comes back through the exchange (`forwarded`, `failed`), not a promise.
    exchange.forwarding = forwarder.forward(req, res, body, rewrite, exchange)
  }

  function refuse(exchange: Exchange, error: unknown): void {
    const known =
      error instanceof GatewayError
        ? error
        : new GatewayError(500, 'internal', 'Internal error', undefined, { cause: error })
    exchange.reason = known.reason
    // A refused token counts toward the lockout; a request without one (discovery) does not, nor an
    // expired or revoked token, which an honest client meets too.
    if (lockout !== undefined && known.bearerError === 'invalid_token' && !HONEST_FAILURES.has(known.reason)) {
      lockout.failed(lockout.address(exchange.req))
    }
    // A body refused as too large would hold the keep-alive socket
    // until the client finishes sending it; closing after the answer frees it now.
    if (known.status === 413 && !exchange.req.complete) exchange.res.setHeader('connection', 'close')
    if (!exchange.res.headersSent) exchange.res.setHeader('x-request-id', exchange.id)
    if (!(error instanceof GatewayError) && events.notice.hasSubscribers) {
      events.notice.publish({ level: 'error', message: `unexpected error: ${(error as Error)?.stack ?? String(error)}` })
    }
    writeError(exchange.res, known, challenge)
  }

  async function serveReadiness(res: ServerResponse): Promise<void> {
    const keys = verifier.ready?.() ?? true
    const backend = await forwarder.reachable()
    writeJson(res, keys && backend ? 200 : 503, JSON.stringify({ ready: keys && backend, keys, backend }), {
      'cache-control': 'no-store',
    })
  }

}

function emitDecision(exchange: Exchange): void {
  if (!events.decision.hasSubscribers) return
  const { req, res, principal, call } = exchange
  // A client that leaves before any answer was written was neither allowed nor denied.
  if (!res.headersSent && exchange.reason === undefined) exchange.reason = 'client_closed'
  const status = res.headersSent ? res.statusCode : 499
  const now = performance.now()
  const url = req.url ?? ''
  const query = url.indexOf('?')
  const event: DecisionEvent = {
    requestId: exchange.id,
    time: Date.now(),
    httpMethod: req.method ?? '',
    path: query === -1 ? url : url.slice(0, query),
    status,
    durationMs: now - exchange.started,
    upstreamMs: exchange.upstreamMs ?? (exchange.upstreamStarted === undefined ? undefined : now - exchange.upstreamStarted),
    decision: exchange.reason === undefined ? 'allow' : status >= 499 ? 'error' : 'deny',
    reason: exchange.reason,
    mcpMethod: call?.method,
    target: call?.target,
    protocolVersion: call?.protocolVersion,
    subject: principal?.subject,
    clientId: principal?.clientId,
    issuer: principal?.issuer,
  }
  events.decision.publish(event)
}

/**
 * RFC 9728 §3.2: the document over GET (and HEAD), JSON, readable from any origin since browsers
 * fetch it before they have a token.
 */
function serveMetadata(req: IncomingMessage, res: ServerResponse, document: string): void {
  res.setHeader('access-control-allow-origin', '*')
  if (req.method === 'OPTIONS') {
    res.setHeader('access-control-allow-methods', 'GET, HEAD, OPTIONS')
    res.setHeader('access-control-allow-headers', req.headers['access-control-request-headers'] ?? 'MCP-Protocol-Version')
    res.writeHead(204)
    res.end()
    return
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD, OPTIONS' })
    res.end()
    return
  }
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(document),
    'cache-control': 'public, max-age=300',
  })
  res.end(req.method === 'HEAD' ? undefined : document)
}

/** Node keeps only the first of repeated Authorization headers; the raw list tells the truth. */
function authorizationHeader(req: IncomingMessage): string | string[] | undefined {
  const raw = req.rawHeaders
  let found: string | string[] | undefined
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string
    if (name.length !== 13 || name.toLowerCase() !== 'authorization') continue
    const value = raw[i + 1] as string
    found = found === undefined ? value : [...(Array.isArray(found) ? found : [found]), value]
  }
  return found
}

/** Refused tokens that do not count toward the failed-authentication lockout. */
const HONEST_FAILURES: ReadonlySet<FailureReason> = new Set(['expired', 'revoked'])

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

function requestId(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id']
  return typeof incoming === 'string' && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID()
}
