import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { exceedsJsonDepth } from '../../../src/jsonrpc/json-depth.js'

const cases: { name: string; text: string; max: number; expected: boolean }[] = [
  { name: 'flat object', text: '{"a":1}', max: 1, expected: false },
  { name: 'two levels over a max of one', text: '{"a":[1]}', max: 1, expected: true },
  { name: 'exactly max', text: '[[[]]]', max: 3, expected: false },
  { name: 'one over max', text: '[[[[]]]]', max: 3, expected: true },
  { name: 'siblings do not add up', text: '[[],[],[],[],[]]', max: 2, expected: false },
  { name: 'brackets in a string', text: '{"a":"[[[[[[[[[["}', max: 1, expected: false },
  { name: 'escaped quote in a string', text: '{"a":"\\"[[[[[[["}', max: 1, expected: false },
  { name: 'escaped backslash ends the string', text: '{"a":"\\\\","b":[[[]]]}', max: 3, expected: true },
  { name: 'unterminated string', text: '{"a":"[[[[[[[[[[[[[[[[[[', max: 1, expected: false },
  { name: 'unclosed nesting', text: '['.repeat(10), max: 5, expected: true },
]

describe('exceedsJsonDepth', () => {
  for (const row of cases) {
    test(row.name, () => assert.equal(exceedsJsonDepth(Buffer.from(row.text), row.max), row.expected))
  }
})
