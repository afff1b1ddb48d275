import { pino, type DestinationStream, type Logger } from 'pino'
import { targetFields, targetKind } from './call-target.js'
import {
  events,
  type DecisionEvent,
  type IntrospectionEvent,
  type JwksFetchEvent,
  type NoticeEvent,
  type ReloadEvent,
  type StreamEvent,
} from './events.js'
import { hundredthsMember, isoTime, numberMember, stringMember } from './json-line.js'

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

/**
 * A second wall behind "log only what the events carry": should a header object, a token or a
 * secret ever be passed to the logger, these members are censored (docs/security.md: the
 * Authorization value never reaches a log, at any level).
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
  const logger = pino(
    {
      level,
      base: bindings ?? undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT, censor: '[redacted]' },
    },
    destination ?? pino.destination({ sync: false }),
  )
  ownFormat.add(logger)
  return logger
}

/** Loggers whose line format (`level` word, ISO `time`, `msg`) `accessLineText` reproduces. */
const ownFormat = new WeakSet<Logger>()

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
 * The access line as the JSON text the logger writes for `logger[level](accessLine(e),
 * 'request')`: the same members in the same order (level, time, the logger's bindings, the
 * fields, msg), built by hand because it is written for every request and pino's generic
 * serialization of an object was most of a line's cost. `time` is the event's (when the response
 * ended, as in the audit record). `bindings` is pino's serialized form (`,"worker":2` or empty).
 */
export function accessLineText(e: DecisionEvent, level: 'info' | 'error', bindings: string): string {
  const kind = targetKind(e.mcpMethod)
  return (
    `{"level":"${level}","time":"${isoTime(e.time)}"${bindings}` +
    stringMember('requestId', e.requestId, true) +
    stringMember('method', e.httpMethod) +
    stringMember('path', e.path) +
    numberMember('status', e.status) +
    hundredthsMember('durationMs', e.durationMs) +
    hundredthsMember('upstreamMs', e.upstreamMs) +
    stringMember('mcpMethod', e.mcpMethod) +
    (kind === undefined ? '' : stringMember(kind, e.target)) +
    stringMember('protocolVersion', e.protocolVersion) +
    stringMember('sub', e.subject) +
    stringMember('client_id', e.clientId) +
    stringMember('iss', e.issuer) +
    stringMember('decision', e.decision) +
    stringMember('reason', e.reason) +
    ',"msg":"request"}\n'
  )
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

  // The access line is built from fixed fields of the decision event, none of which can hold a
  // token or a secret, so it skips pino's redaction pass (18 paths walked on every line) and its
  // serializer: `accessLineText` writes the line straight to the logger's stream, in order with
  // its other lines. Everything else logged keeps the wall. The logger's level decides (a reload
  // changes it). A logger of another format gets the object through pino instead.
  const stream = (logger as unknown as Record<symbol, { write(line: string): unknown }>)[pino.symbols.streamSym]
  const own = ownFormat.has(logger) && stream !== undefined
  const bindingsOf = (l: Logger) => String((l as unknown as Record<symbol, unknown>)[pino.symbols.chindingsSym] ?? '')
  on<DecisionEvent>(events.decision, (e) => {
    const level = e.status >= 500 ? 'error' : 'info'
    if (!logger.isLevelEnabled(level)) return
    if (own) stream.write(accessLineText(e, level, bindingsOf(logger)))
    else logger[level](accessLine(e), 'request')
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

/**
 * Start-up notices (TLS off on a non-loopback address, a secret file others can read) as warnings;
 * variables of other programs that have no effect here at info, as nothing needs fixing.
 */
export function logNotices(logger: Logger, config: { notices: readonly string[]; ignored: readonly string[] }): void {
  for (const line of config.ignored) logger.info(line)
  for (const notice of config.notices) logger.warn(notice)
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100
}
