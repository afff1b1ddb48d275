import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { rawHeaderValues } from '../common/raw-header.js'
import type { Config } from '../config/normalize.js'
import { GatewayError, type AuthScheme, type FailureReason, type UpstreamError } from '../errors.js'
import type { IdentityHeaders, UpstreamIdentity } from '../identity/upstream-identity.js'
import type { McpCall } from '../jsonrpc/mcp-call.js'
import { createClientAddress } from '../lockout/client-address.js'
import type { Lockout } from '../lockout/lockout.js'
import { answerGate } from '../observability/answer-gate.js'
import { events, type DecisionEvent } from '../observability/events.js'
import type { Forwarder, Forwarding, ForwardListener, ForwardOutcome, ResponseRewriter } from '../proxy/forward.js'
import type { Revocations } from '../revocation/revocations.js'
import { checkTokenOnlyInHeader, extractCredentials } from '../token/bearer.js'
import type { Principal, TokenVerifier } from '../token/principal.js'
import { createMemoryReplayCache } from '../token/replay-cache.js'
import type { SenderConstraint } from '../token/sender-constraint.js'
import { checkOrigin, setCorsHeaders, writePreflight } from './cors.js'
import type { McpAuthorizer } from './mcp-authorizer.js'
import { metadataDocumentOf } from './metadata-document.js'
import { readRequestBody } from './read-body.js'
import { refuseRequestHead } from './request-head.js'
import { closeIfBodyUnread, metadataAnswer, writeError, writeJson, type ChallengeContext } from './respond.js'
import { createRouter } from './routes.js'
import { createConfiguredSenderConstraint } from './sender-constraint.js'
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
  /** A token verified on this request's connection (the connection cap sheds such connections last). */
  authenticated?: (req: IncomingMessage) => void
  /** The binding rule for DPoP- and certificate-bound tokens. Default: as configured, replay cache in memory. */
  senderConstraint?: SenderConstraint
  /** What the backend learns about the caller (docs/upstream-identity.md); none when absent. */
  identity?: UpstreamIdentity | undefined
  /** Revoked tokens (401) and the streams they opened (ended). */
  revocations?: Revocations | undefined
  /** Failed-authentication lockout per client address (429 before any token work). */
  lockout?: Lockout | undefined
}

/** Per-request state carried through the steps and into the decision event. */
class Exchange implements ForwardListener {
  readonly started = performance.now()
  principal: Principal | undefined = undefined
  /** The scheme the credentials came with, once read: its challenge carries the error. */
  scheme: AuthScheme | undefined = undefined
  call: McpCall | undefined = undefined
  reason: FailureReason | undefined = undefined
  upstreamMs: number | undefined = undefined
  /** When forwarding began: a response that closes early (client gone) still says how long the backend had it. */
  upstreamStarted: number | undefined = undefined
  forwarding: Forwarding | undefined = undefined
  /** The decision event went out (before the answer's last bytes, or at 'close'). */
  decided = false
  /** The identity step that ran, for the audit trail (its mode and downstream audience, never a token). */
  identity: UpstreamIdentity | undefined = undefined
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

  /**
   * A call the backend received is published before its answer's last bytes are written, and
   * those wait for the turn's group commit (observability/answer-gate.ts), so an audit record in a
   * synchronous mode (MCP_AUDIT_SYNC, docs/deployment.md) is out before the client holds the
   * answer, even if the gateway is killed right after.
   */
  completing(status: number, outcome: ForwardOutcome | undefined, answer: () => void): void {
    if (outcome !== undefined) this.reason = outcome
    emitDecision(this, status)
    answerGate.release(answer)
  }

  streaming(): void {
    this.onStream(this)
  }

  forwarded(upstreamMs: number, outcome: ForwardOutcome | undefined): void {
    this.upstreamMs = upstreamMs
    if (outcome !== undefined) this.reason = outcome
  }

  failed(error: UpstreamError): void {
    // The backend may have received the call: published before the 502/504, as `completing` is.
    this.reason = error.reason
    emitDecision(this, error.status)
    answerGate.release(() => this.refuse(this, error))
  }

  /** The response's one 'close' listener: a forwarding learns the client is gone, then the decision goes out. */
  closed(): void {
    this.unwatch?.()
    this.forwarding?.clientClosed()
    emitDecision(this)
  }
}

/**
 * A request's way through the gateway (docs/architecture.md, "A request's way through"):
 *
 *   1. checkHead        one Host (RFC 9112 §3.2); a path without dot or empty segments, backslashes
 *                       or encoded dots and slashes, else 400 before routing, for every route
 *   2. route            metadata | health | readiness | extra | MCP path | 404
 *   3. checkOrigin      invalid Origin: 403; CORS preflight answered without a token
 *   4. checkHttpMethod  405 with `Allow`, per protocol version
 *   5. checkLockout     an address blocked for refused tokens: 429, before any token work
 *   6. extractToken     RFC 6750 §2.1 header only, `Bearer` or `DPoP` (RFC 9449 §7.1);
 *                       `access_token` in the query or a form body: 400
 *   7. verifyToken      signature/claims or introspection, then audience and issuer; then the
 *                       token's binding (DPoP proof, RFC 9449, or client certificate, RFC 8705),
 *                       then revocation
 *   8. readMcpRequest   bounded body, protocol version, Mcp-Method/Mcp-Name against the body
 *   9. authorize        required scopes, per method, per tool/prompt/resource
 *  10. admit            rate limits (after authentication: a bad token is a 401, never a 429)
 *  11. identifyCaller   the identity the backend gets instead of the client's token: an exchanged
 *                       token, a signed assertion or plain headers (none unless configured)
 *  12. forward          no Authorization, DPoP (nor Cookie, unless asked) upstream; streamed both
 *                       ways; lists filtered if asked; an event stream ends with its token
 *  13. emitDecision     one event per request, consumed by logs, metrics and the audit trail
 */
export function createGatewayHandler(parts: GatewayParts): (req: IncomingMessage, res: ServerResponse) => void {
  const { config, verifier, forwarder, authorizer, revocations, lockout } = parts
  const onStream = watchStream(config, revocations)
  // The client as MCP_TRUSTED_PROXIES says: the introspection cap counts per client, not per proxy.
  const clientAddress = lockout?.address ?? createClientAddress(config.trustedProxies)
  const senderConstraint =
    // Memory holds nothing to close, so a handler built without one owns no connection.
    parts.senderConstraint ?? createConfiguredSenderConstraint(config, createMemoryReplayCache({ maxEntries: config.senderConstraint.replayCacheSize }))
  const dpop = config.senderConstraint.dpop
  const metadataDocument = metadataDocumentOf(config, authorizer.scopesSupported)
  const challenge: ChallengeContext = {
    resourceMetadata: config.resource.metadataUri,
    scope401: authorizer.challengeScope,
    dpop: dpop === 'off' ? undefined : { algorithms: config.senderConstraint.dpopAlgorithms, required: dpop === 'required' },
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
    const origin = checkOrigin(req.headers.origin, config.origins)
    if (req.method === 'OPTIONS') {
      res.setHeader('x-request-id', exchange.id)
      return writePreflight(req, res, origin)
    }
    if (origin !== undefined) setCorsHeaders(res, origin)
    authorizer.checkHttpMethod(req.method ?? '', req.headers)
    // With nothing blocked the address is not even read.
    if (lockout !== undefined && lockout.blocked.size > 0) lockout.check(lockout.address(req))

    checkTokenOnlyInHeader(req.url ?? '/', req.headers['content-type'])
    const credentials = extractCredentials(rawHeaderValues(req.rawHeaders, 'authorization'), dpop !== 'off')
    exchange.scheme = credentials.scheme
    const { token } = credentials
    // A token verified before costs no promise round trip (its cache entry is checked as verify would).
    const principal = verifier.verifyCached?.(token) ?? (await verifier.verify(token, { clientAddress: clientAddress(req) }))
    const binding = senderConstraint.check(req, credentials, principal)
    if (binding !== undefined) await binding
    revocations?.check(principal, token)
    exchange.principal = principal
    exchange.token = token
    parts.authenticated?.(req)

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

    let identity: IdentityHeaders | undefined
    if (parts.identity !== undefined) {
      const identified = identifyCaller(parts.identity, token, exchange)
      identity = identified instanceof Promise ? await identified : identified
    }

    const rewrite: ResponseRewriter | undefined = authorizer.responseRewriter(exchange.principal, exchange.call)
    exchange.upstreamStarted = performance.now()
    // How it ends comes back through the exchange (`forwarded`, `failed`), not a promise.
    exchange.forwarding = forwarder.forward(req, res, body, rewrite, exchange, identity)
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
    if (!exchange.res.headersSent) exchange.res.setHeader('x-request-id', exchange.id)
    if (!(error instanceof GatewayError) && events.notice.hasSubscribers) {
      events.notice.publish({ level: 'error', message: `unexpected error: ${(error as Error)?.stack ?? String(error)}` })
    }
    writeError(exchange.res, known, challenge, exchange.scheme)
  }

  async function serveReadiness(res: ServerResponse): Promise<void> {
    const keys = verifier.ready?.() ?? true
    const backend = await forwarder.reachable()
    writeJson(res, keys && backend ? 200 : 503, JSON.stringify({ ready: keys && backend, keys, backend }), {
      'cache-control': 'no-store',
    })
  }
}

/**
 * Step 11. Per-tool exchange scopes and a JSON-RPC answer to a refusal apply to a single
 * `tools/call`; any other request (a batch too) gets the default identity.
 */
function identifyCaller(identity: UpstreamIdentity, token: string, exchange: Exchange): IdentityHeaders | Promise<IdentityHeaders> {
  const call = exchange.call
  const toolCall = call?.method === 'tools/call' && call.request.messages.length === 1
  exchange.identity = identity
  return identity.identify({
    token,
    principal: exchange.principal as Principal,
    tool: toolCall ? call.target : undefined,
    jsonRpcId: toolCall ? call.request.messages[0]?.id : undefined,
  })
}

/** Responses the backend broke off after their headers: their status is the backend's, yet no answer. */
const BROKEN_OFF: ReadonlySet<FailureReason> = new Set(['upstream_reset', 'upstream_timeout'])

/** Publishes the exchange's decision once: with `status` before the answer's last write, else at 'close'. */
function emitDecision(exchange: Exchange, answering?: number): void {
  if (exchange.decided || !events.decision.hasSubscribers) return
  exchange.decided = true
  const { req, res, principal, call } = exchange
  // A client that leaves before any answer was written was neither allowed nor denied.
  if (answering === undefined && !res.headersSent && exchange.reason === undefined) exchange.reason = 'client_closed'
  const status = answering ?? (res.headersSent ? res.statusCode : 499)
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
    decision: exchange.reason === undefined ? 'allow' : status >= 499 || BROKEN_OFF.has(exchange.reason) ? 'error' : 'deny',
    reason: exchange.reason,
    mcpMethod: call?.method,
    target: call?.target,
    protocolVersion: call?.protocolVersion,
    subject: principal?.subject,
    clientId: principal?.clientId,
    issuer: principal?.issuer,
    identityMode: exchange.identity?.mode,
    downstreamAudience: exchange.identity?.audience,
  }
  events.decision.publish(event)
}

/** Writes `metadataAnswer`: the document, a CORS preflight answer, or 405. */
function serveMetadata(req: IncomingMessage, res: ServerResponse, document: string): void {
  const header = req.headers['access-control-request-headers']
  const { status, headers, body } = metadataAnswer(req.method, document, Array.isArray(header) ? header.join(', ') : header)
  if (status === 405) closeIfBodyUnread(res)
  res.writeHead(status, headers)
  res.end(body === '' ? undefined : body)
}


/** Refused tokens that do not count toward the failed-authentication lockout. */
const HONEST_FAILURES: ReadonlySet<FailureReason> = new Set(['expired', 'revoked'])

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

function requestId(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id']
  return typeof incoming === 'string' && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID()
}
