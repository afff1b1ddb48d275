import { events, type NoticeEvent } from './events.js'

export interface OutageNotices {
  /** A connection error or a command that got no answer: warns once, at the start of an outage. */
  failed(detail: string): void
  /** A connection ready again or a command answered: says so once, if an outage was reported. */
  answered(): void
}

/**
 * One warning when a store stops answering and one info line when it answers again, however many
 * requests fail in between. A closed connection and a stalled one (accepting, never replying) are
 * the same outage to an operator.
 */
export function createOutageNotices(what: string): OutageNotices {
  let down = false
  const notice = (level: NoticeEvent['level'], message: string) => {
    if (events.notice.hasSubscribers) events.notice.publish({ level, message } satisfies NoticeEvent)
  }
  return {
    failed(detail) {
      if (down) return
      down = true
      notice('warn', `${what} unreachable: ${detail}`)
    },
    answered() {
      if (!down) return
      down = false
      notice('info', `${what} reachable again`)
    },
  }
}
