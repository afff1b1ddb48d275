import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { createAnswerGate } from '../../../src/observability/answer-gate.js'
import { events } from '../../../src/observability/events.js'

const nextTurn = () => new Promise((resolve) => setImmediate(resolve))

describe('answer gate (group commit)', () => {
  test('with no record waiting an answer goes at once', () => {
    const gate = createAnswerGate()
    let sent = false
    gate.release(() => (sent = true))
    assert.equal(sent, true)
  })

  test('one commit per turn: each writer flushed once, then the answers in order', async () => {
    const gate = createAnswerGate()
    const order: string[] = []
    const flushA = () => order.push('flush a')
    const flushB = () => order.push('flush b')
    gate.commitBefore(flushA)
    gate.release(() => order.push('answer 1'))
    gate.commitBefore(flushA)
    gate.commitBefore(flushB)
    gate.release(() => order.push('answer 2'))
    assert.equal(order.length, 0)
    await nextTurn()
    assert.deepEqual(order, ['flush a', 'flush b', 'answer 1', 'answer 2'])
    // The next turn starts clean: nothing waits until a record does.
    gate.release(() => order.push('answer 3'))
    assert.equal(order.at(-1), 'answer 3')
  })

  test('a flush that throws does not hold the answers, and is reported', async () => {
    const gate = createAnswerGate()
    const notices: string[] = []
    const onNotice = (message: unknown) => notices.push((message as { message: string }).message)
    events.notice.subscribe(onNotice)
    try {
      let sent = false
      gate.commitBefore(() => {
        throw new Error('disk gone')
      })
      gate.release(() => (sent = true))
      await nextTurn()
      assert.equal(sent, true)
      assert.equal(notices.length, 1)
      assert.match(notices[0] as string, /^an audit flush failed: Error: disk gone/)
    } finally {
      events.notice.unsubscribe(onNotice)
    }
  })
})
