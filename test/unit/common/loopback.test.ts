import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { isLoopbackHost } from '../../../src/common/loopback.js'

describe('isLoopbackHost', () => {
  const rows: { host: string; loopback: boolean }[] = [
    { host: 'localhost', loopback: true },
    { host: '127.0.0.1', loopback: true },
    { host: '127.10.20.30', loopback: true },
    { host: '[::1]', loopback: true },
    { host: '::1', loopback: true },
    { host: new URL('http://127.1/').hostname, loopback: true },
    { host: '0.0.0.0', loopback: false },
    { host: '::', loopback: false },
    { host: 'localhost.example.com', loopback: false },
    { host: '127.0.0.1.nip.io', loopback: false },
    { host: '128.0.0.1', loopback: false },
    { host: '[::ffff:127.0.0.1]', loopback: false },
    { host: 'LOCALHOST', loopback: false },
  ]
  for (const row of rows) {
    test(`${row.host}: ${row.loopback}`, () => {
      assert.equal(isLoopbackHost(row.host), row.loopback)
    })
  }

  test('a URL hostname is already lower-cased, so upper-case input only comes from listen addresses', () => {
    assert.equal(isLoopbackHost(new URL('http://LOCALHOST:8080/').hostname), true)
  })
})
