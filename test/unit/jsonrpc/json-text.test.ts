import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { checkJsonText, type JsonTextProblem } from '../../../src/jsonrpc/json-text.js'

const cases: { name: string; text: string; max?: number; expected: JsonTextProblem | undefined }[] = [
  { name: 'flat object', text: '{"a":1}', max: 1, expected: undefined },
  { name: 'two levels over a max of one', text: '{"a":[1]}', max: 1, expected: 'too_deep' },
  { name: 'exactly max', text: '[[[]]]', max: 3, expected: undefined },
  { name: 'one over max', text: '[[[[]]]]', max: 3, expected: 'too_deep' },
  { name: 'siblings do not add up', text: '[[],[],[],[],[]]', max: 2, expected: undefined },
  { name: 'brackets in a string', text: '{"a":"[[[[[[[[[["}', max: 1, expected: undefined },
  { name: 'escaped quote in a string', text: '{"a":"\\"[[[[[[["}', max: 1, expected: undefined },
  { name: 'escaped backslash ends the string', text: '{"a":"\\\\","b":[[[]]]}', max: 3, expected: 'too_deep' },
  { name: 'unterminated string', text: '{"a":"[[[[[[[[[[[[[[[[[[', max: 1, expected: undefined },
  { name: 'unclosed nesting', text: '['.repeat(10), max: 5, expected: 'too_deep' },
  // Duplicate member names (RFC 8259 §4), in every object.
  { name: 'issue 18: the same name twice in params', text: '{"params":{"name":"delete_repo","name":"echo"}}', expected: 'duplicate_member' },
  { name: 'duplicate at the top level', text: '{"method":"ping","id":1,"method":"tools/call"}', expected: 'duplicate_member' },
  { name: 'duplicate deep in arguments', text: '{"params":{"arguments":{"a":{"b":1,"b":2}}}}', expected: 'duplicate_member' },
  { name: 'duplicate in an object inside an array', text: '[{"id":1},{"id":2,"id":3}]', expected: 'duplicate_member' },
  { name: 'an escaped spelling of the same name', text: '{"name":"x","n\\u0061me":"y"}', expected: 'duplicate_member' },
  { name: 'a non-ASCII name, raw and escaped', text: '{"é":1,"\\u00e9":2}', expected: 'duplicate_member' },
  { name: 'white space around the separators', text: '{ "a" : 1 ,\n\t"a" : 2 }', expected: 'duplicate_member' },
  { name: 'the same name in sibling objects', text: '[{"name":"a"},{"name":"b"}]', expected: undefined },
  { name: 'the same name at two depths', text: '{"name":{"name":{"name":1}}}', expected: undefined },
  { name: 'a name reused after a nested object closed', text: '{"a":{"b":1},"b":2}', expected: undefined },
  { name: 'a value equal to a name', text: '{"name":"name","x":["name","name"]}', expected: undefined },
  { name: 'names that differ only by an escape', text: '{"a\\"b":1,"a\\\\b":2}', expected: undefined },
  { name: 'a name with quotes and braces inside', text: '{"{\\",\\"a\\":":1,"a":2}', expected: undefined },
]

describe('checkJsonText', () => {
  for (const row of cases) {
    test(row.name, () => {
      assert.equal(checkJsonText(Buffer.from(row.text), row.max ?? 64), row.expected)
      // The scan agrees with what JSON.parse reads (where the text is whole JSON).
      if (row.expected === 'duplicate_member') assert.doesNotThrow(() => JSON.parse(row.text))
    })
  }
})
