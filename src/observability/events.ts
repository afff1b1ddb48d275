import { channel } from 'node:diagnostics_channel'

/**
 * Every diagnostics channel the core publishes on. The core never imports a logger or a metrics
 * library; `log.ts`, `metrics.ts` and the audit trail subscribe here. No payload ever holds a
 * token, an Authorization value or a secret.
 */
export const events = {
  /** One per finished request: the decision record (see `DecisionEvent`). */
  decision: channel('mcp-gateway:decision'),
  /** A JWKS document was fetched (startup, unknown `kid`, or cache expiry). */
  jwksFetch: channel('mcp-gateway:jwks:fetch'),
  /** An introspection call went to the authorization server. */
  introspection: channel('mcp-gateway:introspection'),
  /** A response stream (SSE) opened or closed. */
  stream: channel('mcp-gateway:stream'),
  /** Something the operator should see that is not tied to a request. */
  notice: channel('mcp-gateway:notice'),
  /** A request refused by a rate limit, or a rate-limit store failure (see `RateLimitEvent`). */
  rateLimit: channel('mcp-gateway:rate-limit'),
  /** An upstream identity token was asked for or served from the cache (see `TokenExchangeEvent`). */
  tokenExchange: channel('mcp-gateway:token-exchange'),
  /** A configuration reload (SIGHUP) was applied or refused (see `ReloadEvent`). */
  reload: channel('mcp-gateway:reload'),
  /** An operator revoked tokens or lifted a revocation (see `RevocationEvent` in src/revocation). */
  revocation: channel('mcp-gateway:revocation'),
}

export interface DecisionEvent {
  requestId: string
  time: number
  httpMethod: string
  path: string
  status: number
  durationMs: number
  upstreamMs: number | undefined
  /** `allow`, or the failure reason. */
  decision: 'allow' | 'deny' | 'error'
  reason: string | undefined
  mcpMethod: string | undefined
  /** Tool, prompt or resource named by the call. */
  target: string | undefined
  protocolVersion: string | undefined
  subject: string | undefined
  clientId: string | undefined
  issuer: string | undefined
  /** The upstream identity sent (docs/upstream-identity.md); absent with `none`. */
  identityMode?: 'exchange' | 'assertion' | 'headers' | undefined
  /** The audience of the exchanged token or assertion. */
  downstreamAudience?: string | undefined
}

export interface JwksFetchEvent {
  issuer: string
  url: string
  ok: boolean
}

export interface NoticeEvent {
  level: 'info' | 'warn' | 'error'
  message: string
}

/** Published on `events.rateLimit`; never the subject nor the store key (metrics: `mcp_rate_limit_hit_total`). */
export interface RateLimitEvent {
  /** `limited`: answered 429. `store_failed_open`/`_closed`: the store gave no verdict (MCP_RATELIMIT_ON_ERROR). */
  outcome: 'limited' | 'store_failed_open' | 'store_failed_closed'
  /** The limit that refused: `default` (per principal), `client`, `method:<name>` or `tool:<name>` (configured names only). */
  policy: string | undefined
  algorithm: 'fixed_window' | 'token_bucket' | 'gcra'
  store: 'memory' | 'redis'
  /** The configured issuer of the token. */
  issuer: string
  /** Seconds sent in `Retry-After` with a 429. */
  retryAfter: number | undefined
}

/** Published on `events.stream` when an SSE response opens (`open: true`) and when it ends. */
export interface StreamEvent {
  open: boolean
}

/**
 * Published on `events.introspection` for every RFC 7662 lookup: once per call to the
 * authorization server (`cached: false`) and once per answer served from the cache (`cached:
 * true`). Never the token nor any member of the introspection answer.
 */
export interface IntrospectionEvent {
  /** The configured issuer whose introspection endpoint answered (or would have). */
  issuer: string
  cached: boolean
  /** `active`/`inactive` from the answer; `error` when the endpoint failed (timeout, non-200, bad JSON). */
  outcome: 'active' | 'inactive' | 'error'
  /** Round trip to the authorization server; absent for cache hits. */
  durationMs?: number
}

export interface ReloadEvent {
  ok: boolean
  /** Why a reload was refused: the configuration problems, each naming its setting. */
  problems?: readonly string[]
}

/**
 * Published on `events.tokenExchange` for each upstream token the gateway needed (exchange mode):
 * `issued` by the token endpoint, a `cache_hit`, `refused` by the AS, `unavailable` (timeout,
 * unreachable, the gateway's own credentials refused), or `app_only` (refused: no user). Never a
 * token, a subject or the AS's text.
 */
export interface TokenExchangeEvent {
  outcome: 'issued' | 'cache_hit' | 'refused' | 'unavailable' | 'app_only'
  /** Round trip to the token endpoint; absent for cache hits and app-only refusals. */
  durationMs?: number
}

/** Published on `events.revocation` when an operator adds or lifts a revocation (the audit trail). */
export interface RevocationEvent {
  action: 'revoke' | 'lift'
  id: string
  kind: 'jti' | 'sub' | 'client_id' | 'token' | undefined
  /** Milliseconds since the epoch; absent for `lift`. */
  until?: number
  /** Who asked: the admin listener's peer address. */
  by: string
  /** Whether every replica got it (`false`: Redis was unavailable, this process only). */
  shared: boolean
}
