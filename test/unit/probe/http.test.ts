import { test } from 'node:test'
import assert from 'node:assert/strict'
import { firstJsonRpcResponse, sseData } from '../../../src/probe/http.js'

test('sseData: complete events only, multi-line data joined, CRLF accepted', () => {
  const text = 'event: message\r\ndata: {"a":1}\r\n\r\n: keepalive\n\ndata: line1\ndata: line2\n\ndata: partial'
  assert.deepEqual(sseData(text), ['{"a":1}', 'line1\nline2'])
})

test('firstJsonRpcResponse skips notifications and non-JSON, reads batches', () => {
  const notification = '{"jsonrpc":"2.0","method":"notifications/message","params":{}}'
  const response = '{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}'
  assert.deepEqual(firstJsonRpcResponse(['nope', notification, response]), { jsonrpc: '2.0', id: 1, result: { tools: [] } })
  assert.deepEqual(firstJsonRpcResponse([`[${notification},{"jsonrpc":"2.0","id":2,"error":{"code":-1}}]`])?.id, 2)
  assert.equal(firstJsonRpcResponse([notification]), undefined)
})
