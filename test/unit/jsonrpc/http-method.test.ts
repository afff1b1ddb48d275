import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { allowedHttpMethods, checkHttpMethod } from '../../../src/jsonrpc/http-method.js'

// Every 405 says what the endpoint accepts for that version (RFC 9110 §15.5.6), OPTIONS included.
const ALL = 'GET, POST, DELETE, OPTIONS'
const POST_ONLY = 'POST, OPTIONS'

const cases: { method: string; header: string | string[] | undefined; status?: number; reason?: string; allow?: string }[] = [
  { method: 'POST', header: undefined },
  { method: 'POST', header: '2026-07-28' },
  { method: 'POST', header: 'garbage' }, // the body decides for POST
  { method: 'GET', header: undefined },
  { method: 'DELETE', header: undefined },
  { method: 'GET', header: '2025-03-26' },
  { method: 'GET', header: '2025-06-18' },
  { method: 'DELETE', header: '2025-11-25' },
  { method: 'GET', header: ['2025-11-25'] },
  { method: 'GET', header: '2026-07-28', status: 405, reason: 'method_not_allowed', allow: POST_ONLY },
  { method: 'DELETE', header: '2026-07-28', status: 405, reason: 'method_not_allowed', allow: POST_ONLY },
  { method: 'GET', header: '2099-01-01', status: 400, reason: 'unsupported_protocol_version' },
  { method: 'GET', header: ['2025-11-25', '2026-07-28'], status: 400, reason: 'unsupported_protocol_version' },
  { method: 'PUT', header: undefined, status: 405, reason: 'method_not_allowed', allow: ALL },
  { method: 'PATCH', header: '2025-11-25', status: 405, reason: 'method_not_allowed', allow: ALL },
  { method: 'PATCH', header: '2026-07-28', status: 405, reason: 'method_not_allowed', allow: POST_ONLY },
  { method: 'HEAD', header: undefined, status: 405, reason: 'method_not_allowed', allow: ALL },
  { method: 'PUT', header: '2099-01-01', status: 405, reason: 'method_not_allowed', allow: ALL },
]

describe('checkHttpMethod', () => {
  for (const row of cases) {
    test(`${row.method} with ${JSON.stringify(row.header)} -> ${row.status ?? 'allowed'}`, () => {
      if (row.status === undefined) {
        assert.doesNotThrow(() => checkHttpMethod(row.method, row.header))
      } else {
        assert.throws(() => checkHttpMethod(row.method, row.header), (error: { status: number; reason: string; description: string; headers?: Record<string, string> }) => {
          assert.equal(error.status, row.status)
          assert.equal(error.reason, row.reason)
          assert.equal(error.headers?.['allow'], row.allow)
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

test('a GET naming a version the backend does not serve: -32022 listing only what is served', () => {
  assert.throws(
    () => checkHttpMethod('GET', '2025-06-18', ['2025-11-25']),
    (error: { status: number; jsonRpcData?: unknown }) => {
      assert.equal(error.status, 400)
      assert.deepEqual(error.jsonRpcData, { supported: ['2025-11-25'], requested: '2025-06-18' })
      return true
    },
  )
  assert.doesNotThrow(() => checkHttpMethod('GET', '2025-11-25', ['2025-11-25']))
})
