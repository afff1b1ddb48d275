import { pino, type DestinationStream, type Logger } from 'pino'
import { targetFields } from './call-target.js'
import {
  events,
  type DecisionEvent,
  type IntrospectionEvent,
  type JwksFetchEvent,
  type NoticeEvent,
  type ReloadEvent,
  type StreamEvent,
} from './events.js'

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

/**
 * A second wall behind "log only what the events carry": should a header object, a token or a
 * secret ever be passed to the logger, these members are censored (seed 000: the Authorization
 * value never reaches a log, at any level).
 */
const REDACT = [
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'cookie',
  '*.cookie',
  'token',
  '*.token',
  'accessToken',
  '*.accessToken',
  'secret',
  '*.secret',
  'clientSecret',
  '*.clientSecret',
  'password',
  '*.password',
  'claims',
  '*.claims',
]

/**
 * JSON lines, one object per line, `level` as a word and `time` in ISO 8601 (what log shippers
 * parse without configuration). `bindings` go on every line (`worker` in a cluster).
 */
export function createLogger(
  level: LogLevel | string,
  destination?: DestinationStream | NodeJS.WritableStream,
  bindings?: Record<string, unknown>,
): Logger {
  return pino(
    {
      level,
      base: bindings ?? undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT, censor: '[redacted]' },
    },
    destination ?? pino.destination({ sync: false }),
  )
}

/**
 * The access line of one request, built from its decision event only (which holds no token,
 * no Authorization value and no claim besides `sub`, `client_id` and `iss`).
 */
export function accessLine(e: DecisionEvent): Record<string, unknown> {
  return {
    requestId: e.requestId,
    method: e.httpMethod,
    path: e.path,
    status: e.status,
    durationMs: round(e.durationMs),
    upstreamMs: e.upstreamMs === undefined ? undefined : round(e.upstreamMs),
    mcpMethod: e.mcpMethod,
    ...targetFields(e.mcpMethod, e.target),
    protocolVersion: e.protocolVersion,
    sub: e.subject,
    client_id: e.clientId,
    iss: e.issuer,
    decision: e.decision,
    reason: e.reason,
  }
}

/**
 * Subscribes the logger to the core's channels; returns the unsubscribe. One `info` access line
 * per request (`error` for 5xx); key fetches at `debug` (`warn` when they fail); stream and
 * introspection events at `trace`/`debug`, without any part of the answer.
 */
export function attachLogger(logger: Logger): () => void {
  const subscriptions: Array<[{ unsubscribe(fn: (m: unknown) => void): void }, (m: unknown) => void]> = []
  const on = <T>(channel: (typeof events)[keyof typeof events], handler: (message: T) => void) => {
    const fn = (message: unknown) => handler(message as T)
    channel.subscribe(fn)
    subscriptions.push([channel, fn])
  }

  // The access line is built by `accessLine` from fixed fields of the decision event, none of
  // which can hold a token or a secret, so it skips the redaction pass: that pass walks 18 paths
  // on every line and cost about 12 µs of the 16 µs a line took (measured with `npm run bench`'s
  // profile). Everything else logged keeps the wall. The parent's level decides (a reload
  // changes it); the child itself lets every level through.
  const access = logger.child({}, { level: 'trace', redact: { paths: [], censor: '' } })
  on<DecisionEvent>(events.decision, (e) => {
    const level = e.status >= 500 ? 'error' : 'info'
    if (logger.isLevelEnabled(level)) access[level](accessLine(e), 'request')
  })
  on<NoticeEvent>(events.notice, (n) => logger[n.level](n.message))
  on<JwksFetchEvent>(events.jwksFetch, (e) => {
    if (e.ok) logger.debug({ issuer: e.issuer, url: e.url }, 'keys fetched')
    else logger.warn({ issuer: e.issuer, url: e.url }, 'key fetch failed')
  })
  on<IntrospectionEvent>(events.introspection, (e) => {
    if (e.outcome === 'error') logger.warn({ issuer: e.issuer }, 'introspection failed')
    else if (logger.isLevelEnabled('debug')) {
      const durationMs = e.durationMs === undefined ? undefined : round(e.durationMs)
      logger.debug({ issuer: e.issuer, cached: e.cached, outcome: e.outcome, durationMs }, 'introspection')
    }
  })
  on<StreamEvent>(events.stream, (e) => logger.trace(e.open ? 'stream opened' : 'stream closed'))
  on<ReloadEvent>(events.reload, (e) => {
    if (e.ok) logger.info('configuration reloaded')
    else logger.error({ problems: e.problems }, 'configuration reload refused; the running configuration is kept')
  })

  return () => {
    for (const [channel, fn] of subscriptions) channel.unsubscribe(fn)
  }
}

/** Start-up notices (ignored variables, TLS off on a non-loopback address) as warnings. */
export function logNotices(logger: Logger, notices: readonly string[]): void {
  for (const notice of notices) logger.warn(notice)
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100
}
