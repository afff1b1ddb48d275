import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { IncomingMessage } from 'node:http'
import { refuseRequestHead } from '../../../src/server/request-head.js'

/** Just the parts of a request the head check reads. */
function head(url: string, rawHeaders: string[] = ['Host', 'gw.example.com']): IncomingMessage {
  return { url, rawHeaders } as unknown as IncomingMessage
}

// RFC 3986 §3.3 and §5.2.4: dot segments, empty segments and encoded delimiters are refused rather
// than normalised, so routing and the backend cannot see different paths.
describe('refuseRequestHead: the path', () => {
  const refused = [
    '/mcp/../x',
    '/mcp/..',
    '/mcp/..?q=1',
    '/mcp/./tools',
    '/mcp/.',
    '/../mcp',
    '/mcp//x',
    '//mcp',
    '/mcp\\..\\x',
    '/mcp/%2e%2e/x',
    '/mcp/%2E%2E/x',
    '/mcp/.%2e/x',
    '/mcp%2fx',
    '/mcp%2F..%2Fx',
    '/mcp%5cx',
    '/.well-known/oauth-protected-resource/mcp/../x',
    '/.well-known//oauth-protected-resource',
  ]
  for (const url of refused) {
    test(`refused: ${url}`, () => {
      const error = refuseRequestHead(head(url))
      assert.equal(error?.status, 400)
      assert.equal(error?.bearerError, 'invalid_request')
      assert.equal(error?.reason, 'invalid_path')
      assert.doesNotMatch(error?.description ?? '', /=/)
    })
  }

  const passed = [
    '/mcp',
    '/mcp/',
    '/',
    '/mcp/sub/tools',
    '/mcp/.hidden',
    '/mcp/...',
    '/mcp/a..b',
    '/mcp?next=/a/../b//c',
    '/mcp?x=%2e%2e%2f',
    '/mcp/%41',
    '/.well-known/oauth-protected-resource/mcp',
    '*',
  ]
  for (const url of passed) {
    test(`passes: ${url}`, () => {
      assert.equal(refuseRequestHead(head(url)), undefined)
    })
  }
})

// RFC 9112 §3.2: "more than one Host header field line" is a 400.
describe('refuseRequestHead: Host', () => {
  test('two Host lines, in any case: 400 duplicate_host, no challenge', () => {
    for (const raw of [
      ['Host', 'a', 'Host', 'b'],
      ['host', 'a', 'HOST', 'a'],
      ['Host', 'a', 'Accept', '*/*', 'hOsT', 'b'],
    ]) {
      const error = refuseRequestHead(head('/mcp', raw))
      assert.equal(error?.status, 400)
      assert.equal(error?.reason, 'duplicate_host')
      assert.equal(error?.challenges, false)
    }
  })

  test('one Host line passes, whatever else repeats', () => {
    assert.equal(refuseRequestHead(head('/mcp', ['Host', 'a', 'Accept', 'x', 'Accept', 'y', 'Hosts', 'z'])), undefined)
  })
})
