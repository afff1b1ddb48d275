import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createNonceSealer } from '../../../src/token/dpop-nonce.js'

// RFC 9449 §9: stateless nonces, the issue time sealed with an HMAC.

const NOW = 1_800_000_000

test('a nonce is valid for its lifetime on every sealer with the same key, never on another key', () => {
  const key = Buffer.alloc(32, 7)
  const a = createNonceSealer(300, key)
  const b = createNonceSealer(300, key)
  const other = createNonceSealer(300)
  const nonce = a.issue(NOW)
  assert.ok(a.valid(nonce, NOW) && b.valid(nonce, NOW + 300))
  assert.equal(b.valid(nonce, NOW + 301), false, 'stale')
  assert.equal(a.valid(nonce, NOW - 5), false, 'issued in the future')
  assert.equal(other.valid(nonce, NOW), false, 'another key')
})

test('tampered, truncated and oversized nonces are refused', () => {
  const sealer = createNonceSealer(300)
  const nonce = sealer.issue(NOW)
  const bytes = Buffer.from(nonce, 'base64url')
  bytes[2] = (bytes[2] as number) ^ 1
  for (const bad of [bytes.toString('base64url'), nonce.slice(0, 10), '', 'x'.repeat(100)]) assert.equal(sealer.valid(bad, NOW), false, bad)
})
