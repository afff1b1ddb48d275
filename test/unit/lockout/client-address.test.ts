import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { IncomingMessage } from 'node:http'
import { createClientAddress } from '../../../src/lockout/client-address.js'
import { trustedProxiesSchema } from '../../../src/lockout/schema.js'

const request = (peer: string, headers: Record<string, string> = {}) =>
  ({ socket: { remoteAddress: peer }, headers }) as unknown as IncomingMessage

const proxies = trustedProxiesSchema.parse('10.0.0.0/8, 192.168.1.1, fd00::/8')

const cases: [string, string, Record<string, string>, string][] = [
  ['no trusted proxies: the peer, headers ignored', '203.0.113.9', { 'x-forwarded-for': '198.51.100.1' }, '203.0.113.9'],
  ['an untrusted peer cannot name another client', '203.0.113.9', { 'x-forwarded-for': '198.51.100.1' }, '203.0.113.9'],
  ['a trusted peer: the nearest untrusted X-Forwarded-For hop', '10.1.2.3', { 'x-forwarded-for': '198.51.100.1, 203.0.113.5, 10.9.9.9' }, '203.0.113.5'],
  ['Forwarded wins over X-Forwarded-For (RFC 7239)', '10.1.2.3', { forwarded: 'for=198.51.100.7;proto=https, for="[fd00::1]:443"', 'x-forwarded-for': '1.2.3.4' }, '198.51.100.7'],
  ['Forwarded with a port', '192.168.1.1', { forwarded: 'for="203.0.113.4:5555"' }, '203.0.113.4'],
  ['an IPv4-mapped peer is its IPv4 address', '::ffff:10.0.0.1', { 'x-forwarded-for': '203.0.113.8' }, '203.0.113.8'],
  ['a trusted peer without headers is the client', '10.0.0.1', {}, '10.0.0.1'],
  ['a garbage hop stops the walk at the peer', '10.0.0.1', { 'x-forwarded-for': '203.0.113.8, not-an-ip' }, '10.0.0.1'],
  ['every hop trusted: the first one', '10.0.0.1', { 'x-forwarded-for': '10.0.0.5, 10.0.0.6' }, '10.0.0.5'],
]

for (const [name, peer, headers, expected] of cases) {
  test(`client address: ${name}`, () => {
    const address = createClientAddress(name.startsWith('no trusted') ? [] : proxies)
    assert.equal(address(request(peer, headers)), expected)
  })
}

test('trusted proxies: bad entries are refused', () => {
  for (const bad of ['10.0.0.0/33', 'example.com', '::1/129']) assert.equal(trustedProxiesSchema.safeParse(bad).success, false, bad)
})
