import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { decodeHeaderValue, INVALID_HEADER, singleHeader } from '../../../src/jsonrpc/header-value.js'

const enc = (bytes: Buffer | string) => `=?base64?${Buffer.from(bytes).toString('base64')}?=`

// streamable-http §Request Metadata, value encoding.
const cases: { name: string; value: string; expected: string | typeof INVALID_HEADER }[] = [
  { name: 'plain ASCII', value: 'get_weather', expected: 'get_weather' },
  { name: 'plain with inner space', value: 'a b', expected: 'a b' },
  { name: 'plain URI', value: 'file:///a/b?c=d', expected: 'file:///a/b?c=d' },
  { name: 'base64 UTF-8', value: enc('日本語'), expected: '日本語' },
  { name: 'base64 with padding', value: enc('ab'), expected: 'ab' },
  { name: 'base64 of an empty value', value: '=?base64??=', expected: '' },
  { name: 'base64 keeps a BOM', value: enc('\ufeffx'), expected: '\ufeffx' },
  { name: 'base64 of leading whitespace', value: enc('  x'), expected: '  x' },
  { name: 'upper-case marker is plain', value: '=?BASE64?eA==?=', expected: '=?BASE64?eA==?=' },
  { name: 'base64 bad alphabet', value: '=?base64?eA-_?=', expected: INVALID_HEADER },
  { name: 'base64 bad length', value: '=?base64?eA?=', expected: INVALID_HEADER },
  { name: 'base64 of invalid UTF-8', value: enc(Buffer.from([0xc3, 0x28])), expected: INVALID_HEADER },
  { name: 'marker without its end is plain', value: '=?base64?eA==', expected: '=?base64?eA==' },
  { name: 'empty plain value', value: '', expected: INVALID_HEADER },
  { name: 'plain non-ASCII', value: 'caf\u00e9', expected: INVALID_HEADER },
  { name: 'plain control character', value: 'a\u0001b', expected: INVALID_HEADER },
  { name: 'plain leading space', value: ' a', expected: INVALID_HEADER },
  { name: 'plain trailing tab', value: 'a\t', expected: INVALID_HEADER },
]

describe('decodeHeaderValue', () => {
  for (const row of cases) {
    test(row.name, () => assert.equal(decodeHeaderValue(row.value), row.expected))
  }
})

test('singleHeader', () => {
  assert.equal(singleHeader({}, 'x'), undefined)
  assert.equal(singleHeader({ x: 'a' }, 'x'), 'a')
  assert.equal(singleHeader({ x: ['a'] }, 'x'), 'a')
  assert.equal(singleHeader({ x: [] }, 'x'), undefined)
  assert.equal(singleHeader({ x: ['a', 'a'] }, 'x'), INVALID_HEADER)
})
