import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { base64url } from 'jose'
import { InvalidToken } from '../../../src/errors.js'
import type { Principal, TokenVerifier } from '../../../src/token/principal.js'
import { createTokenRouter } from '../../../src/token/router.js'
import { TokenCache } from '../../../src/common/token-cache.js'

// Routing is a pure decision over the token's shape and unverified `iss`; the verifiers here only
// record what reached them (the real ones are exercised in test/integration/gateway-jwt.test.ts).

function jwtWith(claims: Record<string, unknown>): string {
  return `${base64url.encode('{"alg":"RS256"}')}.${base64url.encode(JSON.stringify(claims))}.c2ln`
}

function recorder(name: string, expiresAt = Math.floor(Date.now() / 1000) + 60): TokenVerifier & { seen: string[] } {
  const seen: string[] = []
  return {
    seen,
    async verify(token) {
      seen.push(token)
      const principal: Principal = { issuer: name, subject: undefined, clientId: undefined, scopes: new Set(), expiresAt, claims: {} }
      return principal
    },
  }
}

async function rejectsWith(promise: Promise<unknown>, reason: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof InvalidToken)
    assert.equal(error.reason, reason)
    return true
  })
}

describe('createTokenRouter', () => {
  test('several issuers: each JWT goes to the verifier of its iss', async () => {
    const a = recorder('https://a.example')
    const b = recorder('https://b.example')
    const router = createTokenRouter({ jwt: new Map([['https://a.example', a], ['https://b.example', b]]), cacheSize: 10 })
    assert.equal((await router.verify(jwtWith({ iss: 'https://b.example' }))).issuer, 'https://b.example')
    assert.equal((await router.verify(jwtWith({ iss: 'https://a.example' }))).issuer, 'https://a.example')
    assert.equal(a.seen.length, 1)
    assert.equal(b.seen.length, 1)
  })

  test('several issuers: an unknown or missing iss is refused before any verifier runs', async () => {
    const a = recorder('https://a.example')
    const b = recorder('https://b.example')
    const router = createTokenRouter({ jwt: new Map([['https://a.example', a], ['https://b.example', b]]), cacheSize: 10 })
    await rejectsWith(router.verify(jwtWith({ iss: 'https://evil.example' })), 'unknown_issuer')
    await rejectsWith(router.verify(jwtWith({ iss: 'https://a.example/' })), 'unknown_issuer')
    await rejectsWith(router.verify(jwtWith({ sub: 'x' })), 'unknown_issuer')
    await rejectsWith(router.verify(jwtWith({ iss: ['https://a.example'] })), 'unknown_issuer')
    await rejectsWith(router.verify(`${base64url.encode('{}')}.bm90LWpzb24.c2ln`), 'malformed_token')
    assert.equal(a.seen.length + b.seen.length, 0)
  })

  test('one issuer: every JWT goes to it (it checks iss itself)', async () => {
    const a = recorder('https://a.example')
    const router = createTokenRouter({ jwt: new Map([['https://a.example', a]]), cacheSize: 10 })
    await router.verify(jwtWith({ iss: 'https://other.example' }))
    assert.equal(a.seen.length, 1)
  })

  test('a token that is not a compact JWS goes to the opaque verifier, or is malformed without one', async () => {
    const a = recorder('https://a.example')
    const opaque = recorder('opaque')
    const withOpaque = createTokenRouter({ jwt: new Map([['https://a.example', a]]), opaque, cacheSize: 10 })
    for (const token of ['2YotnFZFEjr1zCsicMWpAA', 'a.b', 'a.b.c.d.e', 'a..c']) {
      assert.equal((await withOpaque.verify(token)).issuer, 'opaque', token)
    }
    assert.equal(a.seen.length, 0)
    const without = createTokenRouter({ jwt: new Map([['https://a.example', a]]), cacheSize: 10 })
    await rejectsWith(without.verify('2YotnFZFEjr1zCsicMWpAA'), 'malformed_token')
  })

  test('only introspection configured: JWTs are introspected too', async () => {
    const opaque = recorder('opaque')
    const router = createTokenRouter({ jwt: new Map(), opaque, cacheSize: 10 })
    assert.equal((await router.verify(jwtWith({ iss: 'https://a.example' }))).issuer, 'opaque')
  })

  test('a verified JWT is served from the cache until its exp', async () => {
    const now = Math.floor(Date.now() / 1000)
    const fresh = recorder('https://a.example', now + 60)
    const router = createTokenRouter({ jwt: new Map([['https://a.example', fresh]]), cacheSize: 10 })
    const token = jwtWith({ iss: 'https://a.example' })
    await router.verify(token)
    await router.verify(token)
    assert.equal(fresh.seen.length, 1)
    assert.equal(router.cache.size, 1)

    const expired = recorder('https://a.example', now - 1)
    const noCache = createTokenRouter({ jwt: new Map([['https://a.example', expired]]), cacheSize: 10 })
    await noCache.verify(token)
    await noCache.verify(token)
    assert.equal(expired.seen.length, 2)
  })

  test('verifyCached answers at once for a token verified before, and only then', async () => {
    const now = Math.floor(Date.now() / 1000)
    const a = recorder('https://a.example', now + 60)
    const introspected = recorder('https://intro.example', now + 60)
    const router = createTokenRouter({
      jwt: new Map([['https://a.example', a], ['https://intro.example', introspected]]),
      opaque: introspected,
      uncached: new Set([introspected]),
      cacheSize: 10,
    })
    const token = jwtWith({ iss: 'https://a.example' })
    assert.equal(router.verifyCached?.(token), undefined)
    const principal = await router.verify(token)
    assert.equal(router.verifyCached?.(token), principal)
    assert.equal(router.verifyCached?.(`${token}x`), undefined)
    // Answers the router does not keep (introspected JWTs, opaque tokens) are not served from its
    // cache: an opaque token is the introspection verifier's to answer at once, if it can.
    const viaIntrospection = jwtWith({ iss: 'https://intro.example' })
    await router.verify(viaIntrospection)
    assert.equal(router.verifyCached?.(viaIntrospection), undefined)
    await router.verify('2YotnFZFEjr1zCsicMWpAA')
    assert.equal(router.verifyCached?.('2YotnFZFEjr1zCsicMWpAA'), undefined)
    assert.equal(a.seen.length, 1)
    const held = await introspected.verify('2YotnFZFEjr1zCsicMWpAA')
    const asked: string[] = []
    const holding: TokenVerifier = { ...introspected, verifyCached: (t) => (asked.push(t), t === '2YotnFZFEjr1zCsicMWpAA' ? held : undefined) }
    const withOpaque = createTokenRouter({ jwt: new Map([['https://a.example', a]]), opaque: holding, uncached: new Set([holding]), cacheSize: 10 })
    assert.equal(withOpaque.verifyCached?.('2YotnFZFEjr1zCsicMWpAA'), held)
    assert.equal(withOpaque.verifyCached?.('another-opaque'), undefined)
    assert.equal(withOpaque.verifyCached?.(token), undefined, 'a JWT is not handed to introspection')
    assert.deepEqual(asked, ['2YotnFZFEjr1zCsicMWpAA', 'another-opaque'])

    // An entry past its exp is not served (verify then asks the verifier again).
    const expired = recorder('https://a.example', now - 1)
    const stale = createTokenRouter({ jwt: new Map([['https://a.example', expired]]), cacheSize: 10 })
    stale.cache.set(TokenCache.key(token), { principal: await expired.verify(token), verifier: expired, kid: undefined }, Date.now() - 1)
    assert.equal(stale.verifyCached?.(token), undefined)
    // No cache, no answer at once.
    const none = createTokenRouter({ jwt: new Map([['https://a.example', a]]), cacheSize: 0 })
    await none.verify(token)
    assert.equal(none.verifyCached?.(token), undefined)
  })

  test('refusals are not cached', async () => {
    let calls = 0
    const failing: TokenVerifier = {
      async verify() {
        calls++
        throw new InvalidToken('expired', 'The token has expired')
      },
    }
    const router = createTokenRouter({ jwt: new Map([['https://a.example', failing]]), cacheSize: 10 })
    const token = jwtWith({ iss: 'https://a.example' })
    await rejectsWith(router.verify(token), 'expired')
    await rejectsWith(router.verify(token), 'expired')
    assert.equal(calls, 2)
    assert.equal(router.cache.size, 0)
  })

  test('readiness and warm-up combine every verifier', async () => {
    const ready: TokenVerifier = { ...recorder('a'), ready: () => true, warmUp: async () => true }
    const notReady: TokenVerifier = { ...recorder('b'), ready: () => false, warmUp: async () => false }
    const router = createTokenRouter({ jwt: new Map([['a', ready], ['b', notReady]]), cacheSize: 0 })
    assert.equal(router.ready?.(), false)
    assert.equal(await router.warmUp?.(), false)
    const allReady = createTokenRouter({ jwt: new Map([['a', ready]]), opaque: ready, cacheSize: 0 })
    assert.equal(allReady.ready?.(), true)
    assert.equal(await allReady.warmUp?.(), true)
  })
})

describe('createTokenRouter: verifiers whose answers are not kept (introspection)', () => {
  test('an uncached verifier is asked every time; a signature verifier once per token', async () => {
    const signed = recorder('https://sig.example')
    const introspected = recorder('https://intro.example')
    const router = createTokenRouter({
      jwt: new Map([['https://sig.example', signed], ['https://intro.example', introspected]]),
      uncached: new Set([introspected]),
      cacheSize: 10,
    })
    const a = jwtWith({ iss: 'https://sig.example' })
    const b = jwtWith({ iss: 'https://intro.example' })
    for (let i = 0; i < 3; i++) {
      await router.verify(a)
      await router.verify(b)
    }
    assert.equal(signed.seen.length, 1)
    assert.equal(introspected.seen.length, 3)
    assert.equal(router.cache.size, 1)
  })

  test('with no issuer checked by signature, a JWT of an unrouted iss goes to introspection', async () => {
    const introspected = recorder('https://intro.example')
    const router = createTokenRouter({
      jwt: new Map([['https://intro.example', introspected], ['https://intro2.example', recorder('x')]]),
      opaque: introspected,
      uncached: new Set([introspected]),
      cacheSize: 10,
    })
    // One issuer of the two is checked by signature: an unrouted iss is refused.
    await rejectsWith(router.verify(jwtWith({ iss: 'https://elsewhere.example' })), 'unknown_issuer')

    const other = recorder('https://intro2.example')
    const only = createTokenRouter({
      jwt: new Map([['https://intro.example', introspected], ['https://intro2.example', other]]),
      opaque: introspected,
      uncached: new Set([introspected, other]),
      cacheSize: 10,
    })
    const before = introspected.seen.length
    await only.verify(jwtWith({ iss: 'https://elsewhere.example' }))
    await only.verify(jwtWith({ iss: 'https://elsewhere.example' }))
    assert.equal(introspected.seen.length, before + 2, 'the opaque-token introspector, each time, never cached')
    assert.equal(other.seen.length, 0)
    assert.equal(only.cache.size, 0)
  })
})
