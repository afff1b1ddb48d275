import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { hundredthsMember, isoTime, jsonString, numberMember, stringMember } from '../../../src/observability/json-line.js'

describe('isoTime', () => {
  test('the same text as toISOString, across second, day and year boundaries', () => {
    const base = Date.UTC(2026, 11, 31, 23, 59, 58, 990)
    const times = [0, 1, 999, 1000, 1001, base, Date.UTC(9999, 11, 31, 23, 59, 59, 999), Date.UTC(2024, 1, 29, 12, 0, 0, 5)]
    for (let i = 0; i < 2500; i += 7) times.push(base + i)
    for (const ms of times) {
      assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms))
      // Again: the answer kept for the millisecond.
      assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms))
    }
  })

  test('times outside the four-digit years or between milliseconds as Date writes them; not a time: now', () => {
    for (const ms of [-1, -86_400_000, Date.UTC(10000, 0, 1), 1.5]) assert.equal(isoTime(ms), new Date(ms).toISOString())
    const before = Date.now()
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, 1e20]) {
      const at = Date.parse(isoTime(bad))
      assert.ok(at >= before && at <= Date.now() + 1, `${bad} -> ${isoTime(bad)}`)
    }
  })
})

describe('jsonString and members', () => {
  test('strings exactly as JSON.stringify writes them', () => {
    const samples = ['', 'plain', 'with "quotes"', 'back\\slash', 'tab\there', 'nl\n', '\u0000\u001f\u007f', 'é ü € 😀', '\ud800 lone', 'lone \udc00', '\u2028\u2029', '</script>', 'x'.repeat(300)]
    for (const s of samples) {
      assert.equal(jsonString(s), JSON.stringify(s), JSON.stringify(s))
      // Twice: the second answer comes from the memo.
      assert.equal(stringMember('k', s), `,"k":${JSON.stringify(s)}`)
      assert.equal(stringMember('k', s), `,"k":${JSON.stringify(s)}`)
      assert.equal(stringMember('k', s, true), `,"k":${JSON.stringify(s)}`)
    }
    assert.equal(stringMember('k', undefined), '')
  })

  test('the memo stays right after it was emptied (more distinct values than it keeps)', () => {
    for (let i = 0; i < 2000; i++) {
      const s = `value-${i}-"${i % 3 === 0 ? '\n' : ''}`
      assert.equal(stringMember('v', s), `,"v":${JSON.stringify(s)}`)
    }
  })

  test('numbers as JSON.stringify writes them, not finite ones as null', () => {
    for (const n of [0, -0, 1, 200, 12.345, -3.5, 1e21, 5e-7, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.equal(numberMember('n', n), `,"n":${JSON.stringify(n)}`)
    }
    assert.equal(numberMember('n', undefined), '')
  })

  test('hundredths: the text of Math.round(ms * 100) / 100, for any duration', () => {
    const samples = [0, -0, 0.001, 0.005, 0.015, 0.1, 0.105, 1, 1.005, 2.675, 12.3456, 99.995, 100, 1234.5, 1e13, 1e15, 1e20, -0.5, -12.345, Number.NaN]
    for (let i = 0; i < 20_000; i++) samples.push(Math.random() * 10 ** (i % 8))
    for (const ms of samples) {
      assert.equal(hundredthsMember('d', ms), `,"d":${JSON.stringify(Math.round(ms * 100) / 100)}`, String(ms))
    }
    assert.equal(hundredthsMember('d', undefined), '')
  })
})
