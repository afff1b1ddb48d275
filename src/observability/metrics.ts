import type { IncomingMessage, ServerResponse } from 'node:http'
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { createMcpCallFilter, type McpPathOptions } from './audit.js'
import {
  events,
  type DecisionEvent,
  type IntrospectionEvent,
  type JwksFetchEvent,
  type RateLimitEvent,
  type ReloadEvent,
  type StreamEvent,
  type TokenExchangeEvent,
} from './events.js'
import { TallyCounter, TallyHistogram } from './tally.js'

/**
 * Reasons that mean "the caller did not authenticate": a missing, malformed, invalid or unverifiable
 * token. The label set is the bounded `FailureReason` union of src/errors.ts.
 */
const AUTH_FAILURES = new Set([
  'no_credentials',
  'malformed_authorization',
  'token_in_query',
  'malformed_token',
  'expired',
  'not_yet_valid',
  'signature',
  'unknown_key',
  'algorithm',
  'issuer',
  'unknown_issuer',
  'audience',
  'missing_claim',
  'token_type',
  'token_lifetime',
  'inactive',
  'invalid_dpop_proof',
  'dpop_replay',
  'dpop_key_mismatch',
  'use_dpop_nonce',
  'bound_token_as_bearer',
  'unbound_token_as_dpop',
  'dpop_required',
  'certificate_mismatch',
  'replay_cache_unavailable',
  'verifier_unavailable',
  'introspection_capped',
])

/** Reasons that say how the backend, not the gateway, ended a forwarded request. */
const UPSTREAM_OUTCOMES = new Set(['upstream_unreachable', 'upstream_timeout', 'upstream_reset', 'upstream_insufficient_scope'])

const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
const MAX_TOOL_LABEL_LENGTH = 128
const OTHER = 'other'

/** Something that renders Prometheus text: one process's registry, or the sum over workers. */
export interface MetricsSource {
  readonly contentType: string
  render(): Promise<string>
}

export interface MetricsOptions {
  /** Which decision events are MCP calls (the rest are metadata, health or 404). */
  calls: McpPathOptions
  /** Tools always given their own label (the tools named in `scopes.tools`). */
  knownTools?: Iterable<string>
  /** Most further tool names given their own label; later ones count as `other`. Default 100. */
  toolLabels?: number
  /** Node.js process metrics (`process_*`, `nodejs_*`). Default true. */
  defaultMetrics?: boolean
}

export interface GatewayMetrics extends MetricsSource {
  readonly registry: Registry
  /** After a reload: the MCP path and the configured tools may have changed. */
  update(options: Pick<MetricsOptions, 'calls' | 'knownTools'>): void
  /** Stops counting (unsubscribes from every channel). */
  close(): void
}

/**
 * Prometheus metrics fed only by the core's diagnostics channels (the names docs/deployment.md lists, plus
 * durations, introspection and open streams). Every label has a bounded set of values: reasons
 * and decisions are closed unions, issuers come from the configuration, tools are capped.
 */
export function createMetrics(options: MetricsOptions): GatewayMetrics {
  const registry = new Registry()
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry })
  const registers = [registry]

  // Counted on every request: plain tallies, read by the registry when /metrics is served.
  const authSuccess = new TallyCounter('mcp_auth_success_total', 'Requests whose access token was verified.', [], registry)
  const authFailure = new TallyCounter(
    'mcp_auth_failure_total',
    'Requests refused because the access token was missing, malformed, invalid or could not be verified.',
    ['reason'],
    registry,
  )
  const toolInvocation = new TallyCounter(
    'mcp_tool_invocation_total',
    `tools/call requests by tool name (names beyond the configured cap count as "${OTHER}") and decision.`,
    ['tool', 'decision'],
    registry,
  )
  const rateLimitHit = new TallyCounter('mcp_rate_limit_hit_total', 'Requests refused with 429 by a rate limit.', [], registry)
  const upstreamOutcome = new TallyCounter(
    'mcp_upstream_outcome_total',
    'Forwarded requests the backend did not answer normally: unreachable, timed out, reset after its ' +
      'headers, or refused with its own insufficient_scope challenge (relayed).',
    ['reason'],
    registry,
  )
  const requests = new TallyCounter(
    'mcp_requests_total',
    'Requests to the MCP endpoint by decision and status code.',
    ['decision', 'status'],
    registry,
  )
  const requestDuration = new TallyHistogram(
    'mcp_request_duration_seconds',
    'Time from request to the end of the response on the MCP endpoint (SSE: the whole stream).',
    ['decision'],
    DURATION_BUCKETS,
    registry,
  )
  const upstreamDuration = new TallyHistogram(
    'mcp_upstream_duration_seconds',
    'Time spent forwarding to the MCP server, until its response body ended.',
    [],
    DURATION_BUCKETS,
    registry,
  )
  const introspectionCacheHits = new TallyCounter(
    'mcp_introspection_cache_hits_total',
    'Introspection answers served from the cache.',
    ['issuer'],
    registry,
  )
  const tokenExchanges = new TallyCounter(
    'mcp_token_exchange_total',
    'Upstream tokens the gateway needed (exchange mode), by outcome: issued, cache_hit, refused, unavailable, app_only.',
    ['outcome'],
    registry,
  )
  const authSuccessCount = authSuccess.at()
  const rateLimitHitCount = rateLimitHit.at()
  const upstreamCell = upstreamDuration.at()

  // Counted on rarer events (key fetches, calls to the authorization server, streams, reloads).
  const jwksRefresh = new Counter({
    name: 'mcp_jwks_refresh_total',
    help: 'JWKS fetches (start, unknown kid, cache expiry); more than one a minute suggests a rotation problem.',
    labelNames: ['issuer', 'result'],
    registers,
  })
  const rateLimitStoreFailures = new Counter({
    name: 'mcp_rate_limit_store_failure_total',
    help: 'The rate-limit store gave no verdict; by what the gateway did then (MCP_RATELIMIT_ON_ERROR).',
    labelNames: ['outcome'],
    registers,
  })
  const introspections = new Counter({
    name: 'mcp_introspection_total',
    help: 'RFC 7662 introspection calls to the authorization server, by result.',
    labelNames: ['issuer', 'result'],
    registers,
  })
  const introspectionDuration = new Histogram({
    name: 'mcp_introspection_duration_seconds',
    help: 'Round trip of introspection calls.',
    buckets: DURATION_BUCKETS,
    registers,
  })
  const openStreams = new Gauge({
    name: 'mcp_open_streams',
    help: 'SSE responses currently streaming to clients.',
    registers,
  })
  const exchangeLatency = new Histogram({
    name: 'mcp_obo_exchange_latency_ms',
    help: 'Round trip of token exchange (RFC 8693 / On-Behalf-Of) and client-credentials calls to the token endpoint, in milliseconds.',
    buckets: [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
    registers,
  })
  const reloads = new Counter({
    name: 'mcp_config_reload_total',
    help: 'Configuration reloads (SIGHUP), applied or refused.',
    labelNames: ['result'],
    registers,
  })

  let isCall = createMcpCallFilter(options.calls)
  const tools = createToolLabeler(options.knownTools ?? [], options.toolLabels ?? 100)

  const onDecision = (message: unknown) => {
    const e = message as DecisionEvent
    if (!isCall(e)) return
    requests.at(e.decision, String(e.status)).value++
    requestDuration.observe(requestDuration.at(e.decision), e.durationMs / 1000)
    if (e.upstreamMs !== undefined) upstreamDuration.observe(upstreamCell, e.upstreamMs / 1000)
    if (e.issuer !== undefined) authSuccessCount.value++
    else if (e.reason !== undefined && AUTH_FAILURES.has(e.reason)) authFailure.at(e.reason).value++
    if (e.reason === 'rate_limited') rateLimitHitCount.value++
    else if (e.reason !== undefined && UPSTREAM_OUTCOMES.has(e.reason)) upstreamOutcome.at(e.reason).value++
    if (e.mcpMethod === 'tools/call' && e.target !== undefined) {
      toolInvocation.at(tools.label(e.target, e.decision === 'allow'), e.decision).value++
    }
  }
  const onJwks = (message: unknown) => {
    const e = message as JwksFetchEvent
    jwksRefresh.inc({ issuer: e.issuer, result: e.ok ? 'ok' : 'error' })
  }
  const onIntrospection = (message: unknown) => {
    const e = message as IntrospectionEvent
    if (e.cached) {
      introspectionCacheHits.at(e.issuer).value++
      return
    }
    introspections.inc({ issuer: e.issuer, result: e.outcome })
    if (e.durationMs !== undefined) introspectionDuration.observe(e.durationMs / 1000)
  }
  const onStream = (message: unknown) => {
    if ((message as StreamEvent).open) openStreams.inc()
    else openStreams.dec()
  }
  const onRateLimit = (message: unknown) => {
    const e = message as RateLimitEvent
    if (e.outcome !== 'limited') rateLimitStoreFailures.inc({ outcome: e.outcome })
  }
  const onTokenExchange = (message: unknown) => {
    const e = message as TokenExchangeEvent
    tokenExchanges.at(e.outcome).value++
    if (e.durationMs !== undefined) exchangeLatency.observe(e.durationMs)
  }
  const onReload = (message: unknown) => reloads.inc({ result: (message as ReloadEvent).ok ? 'applied' : 'refused' })

  const subscriptions = [
    [events.decision, onDecision],
    [events.jwksFetch, onJwks],
    [events.introspection, onIntrospection],
    [events.stream, onStream],
    [events.rateLimit, onRateLimit],
    [events.reload, onReload],
    [events.tokenExchange, onTokenExchange],
  ] as const
  for (const [channel, fn] of subscriptions) channel.subscribe(fn)

  return {
    registry,
    get contentType() {
      return registry.contentType
    },
    render: () => registry.metrics(),
    update(next) {
      isCall = createMcpCallFilter(next.calls)
      tools.setKnown(next.knownTools ?? [])
    },
    close() {
      for (const [channel, fn] of subscriptions) channel.unsubscribe(fn)
    },
  }
}

/**
 * Tool names come from callers, so they cannot all become label values: configured tools always
 * do; other names do while fewer than `limit` have been seen in allowed calls (a denied call never
 * takes a slot); the rest are `other`.
 */
export function createToolLabeler(known: Iterable<string>, limit: number) {
  let configured = new Set(known)
  const seen = new Set<string>()
  return {
    label(tool: string, allowed: boolean): string {
      if (configured.has(tool) || seen.has(tool)) return tool
      if (!allowed || tool.length > MAX_TOOL_LABEL_LENGTH || seen.size >= limit) return OTHER
      seen.add(tool)
      return tool
    },
    setKnown(next: Iterable<string>) {
      configured = new Set(next)
    },
  }
}

/** The tools a configuration names (`scopes.tools` keys, without the `*` fallback). */
export function configuredTools(scopes: { tools: Readonly<Record<string, unknown>> }): string[] {
  return Object.keys(scopes.tools).filter((name) => name !== '*')
}

/** A worker answers the primary's metric requests with this process's registry (prom-client IPC). */
export function shareWithPrimary(metrics: GatewayMetrics): void {
  AggregatorRegistry.setRegistries([metrics.registry])
  new AggregatorRegistry()
}

/** In the cluster primary: every worker's metrics, summed (histograms and counters add up). */
export function clusterMetricsSource(): MetricsSource {
  const aggregator = new AggregatorRegistry()
  return { contentType: aggregator.contentType, render: () => aggregator.clusterMetrics() }
}

/** `GET /metrics` for a listener: Prometheus text exposition format 0.0.4. */
export function metricsHandler(source: MetricsSource): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' })
      res.end()
      return
    }
    source.render().then(
      (text) => {
        res.writeHead(200, { 'content-type': source.contentType, 'cache-control': 'no-store' })
        res.end(req.method === 'HEAD' ? undefined : text)
      },
      () => {
        res.writeHead(503, { 'content-type': 'text/plain' })
        res.end('metrics unavailable\n')
      },
    )
  }
}
