import { createHash } from 'node:crypto'
import { TokenCache } from '../src/common/token-cache.js'

/**
 * `node --import tsx bench/micro-cache-key.ts`: the verified-token cache's per-request work on a
 * hit (key = SHA-256 of the token, then an LRU lookup), against the `createHash` form it replaced.
 * Sub-microsecond differences are below the macro benchmark's noise, hence this micro check.
 */
const token = `${'eyJhbGciOiJSUzI1NiIsInR5cCI6ImF0K2p3dCJ9'}.${'x'.repeat(420)}.${'s'.repeat(342)}`
const cache = new TokenCache<object>(10_000)
cache.set(TokenCache.key(token), {}, Date.now() + 3_600_000)
const N = 500_000

function time(label: string, fn: () => unknown): void {
  for (let i = 0; i < 50_000; i++) fn()
  const start = performance.now()
  for (let i = 0; i < N; i++) fn()
  console.log(`${label.padEnd(40)} ${(((performance.now() - start) * 1000) / N).toFixed(3)} µs`)
}

for (let round = 0; round < 3; round++) {
  time('createHash().update().digest()', () => createHash('sha256').update(token).digest('base64url'))
  time('TokenCache.key (crypto.hash)', () => TokenCache.key(token))
  time('TokenCache.key + get (a hit)', () => cache.get(TokenCache.key(token)))
}
