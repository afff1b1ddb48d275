import { pino, type Logger } from 'pino'
import { events, type DecisionEvent, type NoticeEvent } from './events.js'

/**
 * JSON-lines logs on stdout. The logger only subscribes to the core's events, whose payloads hold
 * no token; the redaction list is a second wall in case a header object is ever logged.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      redact: {
        paths: ['authorization', '*.authorization', 'headers.authorization', 'token', '*.token', 'secret', '*.secret'],
        censor: '[redacted]',
      },
    },
    destination ?? pino.destination({ sync: false }),
  )
}

/** Subscribes the logger to the decision and notice channels; returns the unsubscribe. */
export function attachLogger(logger: Logger): () => void {
  const onDecision = (message: unknown) => {
    const e = message as DecisionEvent
    const level = e.status >= 500 ? 'error' : e.status >= 400 ? 'info' : 'debug'
    if (!logger.isLevelEnabled(level)) return
    logger[level](
      {
        requestId: e.requestId,
        method: e.httpMethod,
        path: e.path,
        status: e.status,
        durationMs: round(e.durationMs),
        upstreamMs: e.upstreamMs === undefined ? undefined : round(e.upstreamMs),
        mcpMethod: e.mcpMethod,
        target: e.target,
        protocolVersion: e.protocolVersion,
        sub: e.subject,
        clientId: e.clientId,
        decision: e.decision,
        reason: e.reason,
      },
      'request',
    )
  }
  const onNotice = (message: unknown) => {
    const n = message as NoticeEvent
    logger[n.level](n.message)
  }
  events.decision.subscribe(onDecision)
  events.notice.subscribe(onNotice)
  return () => {
    events.decision.unsubscribe(onDecision)
    events.notice.unsubscribe(onNotice)
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100
}
