import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { allowedHttpMethods, checkHttpMethod } from '../../../src/jsonrpc/http-method.js'

const cases: { method: string; header: string | string[] | undefined; status?: number; reason?: string }[] = [
  { method: 'POST', header: undefined },
  { method: 'POST', header: '2026-07-28' },
  { method: 'POST', header: 'garbage' }, // the body decides for POST
  { method: 'GET', header: undefined },
  { method: 'DELETE', header: undefined },
  { method: 'GET', header: '2025-03-26' },
  { method: 'GET', header: '2025-06-18' },
  { method: 'DELETE', header: '2025-11-25' },
  { method: 'GET', header: ['2025-11-25'] },
  { method: 'GET', header: '2026-07-28', status: 405, reason: 'method_not_allowed' },
  { method: 'DELETE', header: '2026-07-28', status: 405, reason: 'method_not_allowed' },
  { method: 'GET', header: '2099-01-01', status: 400, reason: 'unsupported_protocol_version' },
  { method: 'GET', header: ['2025-11-25', '2026-07-28'], status: 400, reason: 'unsupported_protocol_version' },
  { method: 'PUT', header: undefined, status: 405, reason: 'method_not_allowed' },
  { method: 'PATCH', header: '2025-11-25', status: 405, reason: 'method_not_allowed' },
  { method: 'HEAD', header: undefined, status: 405, reason: 'method_not_allowed' },
]

describe('checkHttpMethod', () => {
  for (const row of cases) {
    test(`${row.method} with ${JSON.stringify(row.header)} -> ${row.status ?? 'allowed'}`, () => {
      if (row.status === undefined) {
        assert.doesNotThrow(() => checkHttpMethod(row.method, row.header))
      } else {
        assert.throws(() => checkHttpMethod(row.method, row.header), (error: { status: number; reason: string; description: string }) => {
          assert.equal(error.status, row.status)
          assert.equal(error.reason, row.reason)
          assert.doesNotMatch(error.description, /=/)
          return true
        })
      }
    })
  }
})

test('allowedHttpMethods per version', () => {
  assert.deepEqual(allowedHttpMethods('2025-03-26'), ['GET', 'POST', 'DELETE'])
  assert.deepEqual(allowedHttpMethods('2025-11-25'), ['GET', 'POST', 'DELETE'])
  assert.deepEqual(allowedHttpMethods('2026-07-28'), ['POST'])
})
