import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { InvalidToken } from '../../../src/errors.js'
import { createAudienceCheck } from '../../../src/token/audience.js'
import {
  answerLifetime,
  checkIntrospectionAnswer,
  decodeStoredAnswer,
  encodeStoredAnswer,
  IntrospectionFailure,
  parseIntrospectionAnswer,
  type AnswerRules,
  type IntrospectionAnswer,
} from '../../../src/token/introspection-answer.js'

/** RFC 7662 §2.2's example response (https://www.rfc-editor.org/rfc/rfc7662#section-2.2). */
const RFC7662_EXAMPLE = {
  active: true,
  client_id: 'l238j323ds-23ij4',
  username: 'jdoe',
  scope: 'read write dolphin',
  sub: 'Z5O3upPC88QrAjx00dis',
  aud: 'https://protected.example.net/resource',
  iss: 'https://server.example.com/',
  exp: 1419356238,
  iat: 1419350238,
  extension_field: 'twenty-seven',
}
const NOW = 1419353000

const rules: AnswerRules = {
  issuer: 'https://server.example.com/',
  acceptedIssuers: new Set(['https://server.example.com/']),
  audienceOk: createAudienceCheck(['https://protected.example.net/resource']),
  scopeClaim: 'scope',
  clockSkewSeconds: 30,
}

const check = (answer: Record<string, unknown>, now = NOW) =>
  checkIntrospectionAnswer(answer as IntrospectionAnswer, rules, now, now + 60)

describe('parseIntrospectionAnswer', () => {
  test('the RFC example parses as is', () => {
    assert.deepEqual(parseIntrospectionAnswer(200, JSON.stringify(RFC7662_EXAMPLE)), RFC7662_EXAMPLE)
    assert.deepEqual(parseIntrospectionAnswer(200, '{"active":false}'), { active: false })
  })

  const failures: { name: string; status: number; body: string; detail: RegExp }[] = [
    { name: 'non-200', status: 500, body: '{"active":true}', detail: /^HTTP 500$/ },
    { name: '401 names the client credentials', status: 401, body: '', detail: /^HTTP 401$/ },
    { name: 'not JSON', status: 200, body: '<html>', detail: /not JSON/ },
    { name: 'JSON array', status: 200, body: '[{"active":true}]', detail: /not a JSON object/ },
    { name: 'JSON null', status: 200, body: 'null', detail: /not a JSON object/ },
    { name: 'missing active', status: 200, body: '{"scope":"read"}', detail: /no boolean "active"/ },
    { name: 'active as a string', status: 200, body: '{"active":"true"}', detail: /no boolean "active"/ },
  ]
  for (const { name, status, body, detail } of failures) {
    test(`${name} is a failure, not an answer`, () => {
      assert.throws(
        () => parseIntrospectionAnswer(status, body),
        (error: unknown) => error instanceof IntrospectionFailure && detail.test(error.detail),
      )
    })
  }

  test('the detail never quotes the body', () => {
    const body = '{"error":"invalid token opaque-SECRET-TOKEN"}'
    assert.throws(() => parseIntrospectionAnswer(400, body), (error: unknown) => !(error as Error).message.includes('SECRET'))
  })
})

describe('answerLifetime', () => {
  const options = { maxTtl: 60_000, inactiveTtl: 5_000 }
  const nowMs = NOW * 1000
  const rows: { name: string; answer: Record<string, unknown>; expected: number }[] = [
    { name: 'exp far away: the max TTL', answer: { active: true, exp: NOW + 3600 }, expected: 60_000 },
    { name: 'exp sooner than the max TTL: until exp', answer: { active: true, exp: NOW + 10 }, expected: 10_000 },
    { name: 'exp passed: not cached', answer: { active: true, exp: NOW - 1 }, expected: 0 },
    { name: 'no exp: the max TTL', answer: { active: true }, expected: 60_000 },
    { name: 'inactive: briefly', answer: { active: false }, expected: 5_000 },
  ]
  for (const { name, answer, expected } of rows) {
    test(name, () => assert.equal(answerLifetime(answer as IntrospectionAnswer, options, nowMs), expected))
  }
  test('max TTL 0 disables caching of active answers', () => {
    assert.equal(answerLifetime({ active: true, exp: NOW + 3600 }, { maxTtl: 0, inactiveTtl: 5_000 }, nowMs), 0)
  })
})

describe('stored answers', () => {
  test('an active answer is stored whole with its end, and reads back the same', () => {
    const text = encodeStoredAnswer(RFC7662_EXAMPLE, 1_000)
    assert.deepEqual(decodeStoredAnswer(text), { answer: RFC7662_EXAMPLE, until: 1_000 })
  })
  test('an inactive answer is stored bare, whatever else it held', () => {
    const text = encodeStoredAnswer({ active: false, sub: 'jdoe', scope: 'read' }, 5)
    assert.equal(text, '{"until":5,"answer":{"active":false}}')
  })
  const unreadable: [string, string][] = [
    ['not JSON', 'active'],
    ['a bare answer (the format without its end)', '{"active":true,"scope":"read"}'],
    ['no numeric end', '{"until":"1000","answer":{"active":true}}'],
    ['an end that is not finite', '{"until":1e999,"answer":{"active":true}}'],
    ['an answer without a boolean active', '{"until":1000,"answer":{"active":"true"}}'],
    ['an array for an answer', '{"until":1000,"answer":[true]}'],
    ['null', 'null'],
  ]
  for (const [name, text] of unreadable) test(`${name}: a miss`, () => assert.equal(decodeStoredAnswer(text), undefined))
})

describe('checkIntrospectionAnswer', () => {
  test('the RFC example is a principal with its scopes, subject and client', () => {
    const principal = check(RFC7662_EXAMPLE)
    assert.equal(principal.issuer, 'https://server.example.com/')
    assert.equal(principal.subject, 'Z5O3upPC88QrAjx00dis')
    assert.equal(principal.clientId, 'l238j323ds-23ij4')
    assert.deepEqual([...principal.scopes], ['read', 'write', 'dolphin'])
    assert.equal(principal.expiresAt, 1419356238)
    assert.equal(principal.claims['extension_field'], 'twenty-seven')
  })

  test('aud as an array matches any of its values; scp arrays are read when scope is absent', () => {
    const { scope: _scope, ...rest } = RFC7662_EXAMPLE
    const principal = check({ ...rest, aud: ['https://elsewhere.example/', 'https://protected.example.net/resource'], scp: ['a', 'b'] })
    assert.deepEqual([...principal.scopes], ['a', 'b'])
  })

  test('no exp: the principal expires at the fallback', () => {
    const { exp: _exp, ...rest } = RFC7662_EXAMPLE
    assert.equal(check(rest).expiresAt, NOW + 60)
  })

  const refusals: { name: string; answer: Record<string, unknown>; reason: string; now?: number }[] = [
    { name: 'inactive', answer: { active: false }, reason: 'inactive' },
    { name: 'active missing or not true', answer: { ...RFC7662_EXAMPLE, active: 'yes' }, reason: 'inactive' },
    { name: 'exp passed although the AS says active', answer: RFC7662_EXAMPLE, now: 1419356238 + 31, reason: 'expired' },
    { name: 'nbf in the future', answer: { ...RFC7662_EXAMPLE, nbf: NOW + 120 }, reason: 'not_yet_valid' },
    { name: 'iat in the future', answer: { ...RFC7662_EXAMPLE, iat: NOW + 120 }, reason: 'not_yet_valid' },
    { name: 'exp not a number', answer: { ...RFC7662_EXAMPLE, exp: '1419356238' }, reason: 'malformed_token' },
    { name: 'another issuer', answer: { ...RFC7662_EXAMPLE, iss: 'https://evil.example/' }, reason: 'issuer' },
    { name: 'issuer differing by a trailing slash', answer: { ...RFC7662_EXAMPLE, iss: 'https://server.example.com' }, reason: 'issuer' },
    { name: 'wrong audience', answer: { ...RFC7662_EXAMPLE, aud: 'https://other.example/resource' }, reason: 'audience' },
    { name: 'no audience', answer: { ...RFC7662_EXAMPLE, aud: undefined }, reason: 'audience' },
    { name: 'refresh token (token_type)', answer: { ...RFC7662_EXAMPLE, token_type: 'refresh_token' }, reason: 'token_type' },
    {
      name: 'refresh token (RFC 8693 URI)',
      answer: { ...RFC7662_EXAMPLE, token_type: 'urn:ietf:params:oauth:token-type:refresh_token' },
      reason: 'token_type',
    },
    { name: 'Keycloak refresh token (typ)', answer: { ...RFC7662_EXAMPLE, typ: 'Refresh' }, reason: 'token_type' },
  ]
  for (const { name, answer, reason, now } of refusals) {
    test(`${name}: 401 ${reason}`, () => {
      assert.throws(
        () => check(answer, now),
        (error: unknown) => error instanceof InvalidToken && error.reason === reason && error.status === 401,
      )
    })
  }

  test('a key-bound answer becomes a principal that keeps its cnf, for the binding rule to check (sender-constraint.ts)', () => {
    const dpop = check({ ...RFC7662_EXAMPLE, token_type: 'DPoP', cnf: { jkt: 'abc' } })
    assert.deepEqual(dpop.claims['cnf'], { jkt: 'abc' })
    assert.equal(dpop.claims['token_type'], 'DPoP')
    assert.deepEqual(check({ ...RFC7662_EXAMPLE, cnf: { 'x5t#S256': 'abc' } }).claims['cnf'], { 'x5t#S256': 'abc' })
  })

  test('exp within the clock skew, a Bearer token_type and no iss are accepted', () => {
    assert.ok(check(RFC7662_EXAMPLE, 1419356238 + 10))
    assert.ok(check({ ...RFC7662_EXAMPLE, token_type: 'Bearer' }))
    const { iss: _iss, ...noIssuer } = RFC7662_EXAMPLE
    assert.equal(check(noIssuer).issuer, 'https://server.example.com/')
  })

  test('refusal descriptions are fixed texts without the answer in them', () => {
    try {
      check({ ...RFC7662_EXAMPLE, aud: 'https://other.example/resource' })
      assert.fail('expected a refusal')
    } catch (error) {
      const description = (error as InvalidToken).description
      assert.equal(description, 'The token was not issued for this resource')
      assert.ok(!description.includes('='))
    }
  })
})
