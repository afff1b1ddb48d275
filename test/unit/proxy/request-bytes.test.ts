import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { requestBytes } from '../../../src/proxy/request-bytes.js'
import { downstreamHeaders, neverUpstream, upstreamRequestHeaders } from '../../../src/proxy/headers.js'

describe('requestBytes (RFC 9112 §3, §5)', () => {
  const rows: {
    name: string
    method: string
    path: string
    headers: Record<string, string | string[]>
    body?: Buffer
    wire: string
  }[] = [
    {
      name: 'a POST: Host first, the fields, Content-Length, the body, in one buffer',
      method: 'POST',
      path: '/mcp?x=1',
      headers: { 'content-type': 'application/json', 'x-forwarded-proto': 'http' },
      body: Buffer.from('{"a":1}'),
      wire:
        'POST /mcp?x=1 HTTP/1.1\r\nhost: 127.0.0.1:3000\r\nconnection: keep-alive\r\ncontent-type: application/json\r\n' +
        'x-forwarded-proto: http\r\ncontent-length: 7\r\n\r\n{"a":1}',
    },
    {
      name: 'a GET without a body has no Content-Length',
      method: 'GET',
      path: '/mcp',
      headers: { accept: 'text/event-stream' },
      wire: 'GET /mcp HTTP/1.1\r\nhost: 127.0.0.1:3000\r\nconnection: keep-alive\r\naccept: text/event-stream\r\n\r\n',
    },
    {
      name: 'a POST without a body says Content-Length: 0',
      method: 'POST',
      path: '/mcp',
      headers: {},
      wire: 'POST /mcp HTTP/1.1\r\nhost: 127.0.0.1:3000\r\nconnection: keep-alive\r\ncontent-length: 0\r\n\r\n',
    },
    {
      name: 'repeated fields are repeated lines; latin1 values keep their bytes',
      method: 'DELETE',
      path: '/mcp',
      headers: { 'x-list': ['a', 'b'], 'x-latin1': '\xe9' },
      wire: 'DELETE /mcp HTTP/1.1\r\nhost: 127.0.0.1:3000\r\nconnection: keep-alive\r\nx-list: a\r\nx-list: b\r\nx-latin1: \xe9\r\n\r\n',
    },
  ]
  for (const row of rows) {
    test(row.name, () => {
      const bytes = requestBytes(row.method, row.path, '127.0.0.1:3000', row.headers, row.body)
      assert.equal(bytes.toString('latin1'), row.wire)
    })
  }

  test('CR, LF or NUL in a value, or whitespace in the target, is refused (no field splitting)', () => {
    for (const value of ['a\r\nx-injected: 1', 'a\nb', 'a\0b']) {
      assert.throws(() => requestBytes('GET', '/mcp', 'h', { 'x-a': value }, undefined), /invalid value for header x-a/)
      assert.throws(() => requestBytes('GET', '/mcp', 'h', { 'x-a': ['ok', value] }, undefined), /invalid value/)
    }
    for (const path of ['/mcp HTTP/1.1\r\nx: y', '/a b', '/a\tb', '/a\x7f']) {
      assert.throws(() => requestBytes('GET', path, 'h', {}, undefined), /invalid request target/)
    }
  })
})

describe('downstreamHeaders (RFC 9110 §7.6.1)', () => {
  test('hop-by-hop fields and those Connection names are dropped; repeats merged; type and coding read', () => {
    const got = downstreamHeaders([
      'content-type', 'application/json',
      'connection', 'keep-alive, x-hop',
      'keep-alive', 'timeout=5',
      'transfer-encoding', 'chunked',
      'x-hop', 'secret',
      'set-cookie', 'a=1',
      'set-cookie', 'b=2',
      'content-encoding', 'identity',
      'proxy-authenticate', 'Basic',
      'mcp-session-id', 's1',
    ], true)
    assert.deepEqual(got.headers, [
      'content-type', 'application/json',
      'set-cookie', ['a=1', 'b=2'],
      'content-encoding', 'identity',
      'mcp-session-id', 's1',
    ])
    assert.equal(got.contentType, 'application/json')
    assert.equal(got.encoded, false)
    assert.equal(downstreamHeaders(['content-encoding', 'identity, gzip']).encoded, true)
  })

  test('a long field list merges repeats the same way (through a Map), in first-seen order', () => {
    const fields: string[] = []
    for (let i = 0; i < 40; i++) fields.push(`x-f${i}`, `v${i}`)
    fields.push('x-f3', 'again', 'set-cookie', 'a=1', 'x-f3', 'third', 'set-cookie', 'b=2', '__proto__', 'p')
    const got = downstreamHeaders(fields, true).headers
    assert.equal(got.length, 2 * 42)
    assert.deepEqual(got.slice(6, 8), ['x-f3', ['v3', 'again', 'third']])
    assert.deepEqual(got.slice(-4), ['set-cookie', ['a=1', 'b=2'], '__proto__', 'p'])
    assert.equal(downstreamHeaders(fields).headers.length, 2 * 41)
  })

  test('Set-Cookie from the backend is dropped unless cookies are forwarded', () => {
    const fields = ['set-cookie', 'a=1', 'content-type', 'application/json', 'set-cookie', 'b=2']
    assert.deepEqual(downstreamHeaders(fields).headers, ['content-type', 'application/json'])
    assert.deepEqual(downstreamHeaders(fields, true).headers, ['set-cookie', ['a=1', 'b=2'], 'content-type', 'application/json'])
  })
})

describe('upstreamRequestHeaders', () => {
  const via = { remoteAddress: '127.0.0.1', proto: 'http', host: 'gw' } as const
  const incoming = { authorization: 'Bearer t', cookie: 'sid=1', 'content-type': 'application/json' }

  test('Cookie stays at the gateway unless cookies are forwarded; Authorization never goes', () => {
    assert.deepEqual(Object.keys(upstreamRequestHeaders(incoming, via)), ['content-type', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host'])
    const forwarded = upstreamRequestHeaders(incoming, via, false, neverUpstream(true))
    assert.equal(forwarded['cookie'], 'sid=1')
    assert.equal(forwarded['authorization'], undefined)
  })
})

test('a header named in neverUpstream (the trusted client-certificate header) does not reach the backend, in any case', () => {
  const incoming = { 'x-client-cert': 'PEM', 'content-type': 'application/json' }
  const via = { remoteAddress: '127.0.0.1', proto: 'http' as const, host: 'gw' }
  assert.equal(upstreamRequestHeaders(incoming, via)['x-client-cert'], 'PEM')
  assert.equal(upstreamRequestHeaders(incoming, via, false, neverUpstream(false, ['X-Client-Cert']))['x-client-cert'], undefined)
})
