import { events } from './events.js'

/**
 * Group commit for the audit trail's synchronous modes (`MCP_AUDIT_SYNC` `write` and `fsync`,
 * docs/deployment.md): an answer's last bytes wait until the audit record of its call is written,
 * so a call the client saw answered is in the trail even if the gateway is killed right after.
 *
 * The records of every call answered in one turn of the event loop go out together: the first
 * record of a turn schedules one commit (`setImmediate`, the check phase, after the turn's I/O
 * callbacks), which runs the writers' flushes (one write(2), at most one fsync(2)) and then the
 * answers that waited, in order. Under load that is one system call for a turn's dozens of answers
 * instead of one per answer (and one fsync per turn instead of per call); with one request in
 * flight the answer waits only for the check phase of the turn it was completed in.
 */
export interface AnswerGate {
  /** A writer holds a record that must be out before the answers completing now: `flush` runs in this turn's commit. */
  commitBefore(flush: () => void): void
  /** Sends an answer's last bytes: at once when no record is waiting, else right after the pending commit. */
  release(answer: () => void): void
}

export function createAnswerGate(): AnswerGate {
  const flushes = new Set<() => void>()
  let answers: (() => void)[] = []
  let scheduled = false

  const commit = () => {
    scheduled = false
    const writes = [...flushes]
    flushes.clear()
    const waiting = answers
    answers = []
    // A writer that cannot write says so itself (line-writer.ts) and the answers still go:
    // a full disk must not hold every client's answer.
    for (const flush of writes) guarded(flush, 'an audit flush')
    for (const answer of waiting) guarded(answer, 'an answer held for its audit record')
  }

  return {
    commitBefore(flush) {
      flushes.add(flush)
      if (scheduled) return
      scheduled = true
      setImmediate(commit)
    },
    release(answer) {
      if (scheduled) answers.push(answer)
      else answer()
    },
  }
}

function guarded(run: () => void, what: string): void {
  try {
    run()
  } catch (error) {
    if (events.notice.hasSubscribers) events.notice.publish({ level: 'error', message: `${what} failed: ${(error as Error)?.stack ?? String(error)}` })
  }
}

/** The process's gate: the audit trail commits through it, the pipeline releases answers through it. */
export const answerGate = createAnswerGate()
