import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { exportJWK, generateKeyPair, type JWK } from 'jose'
import { inspectJwks, keyAlgorithms } from '../../../src/check/jwks-keys.js'

describe('keyAlgorithms (RFC 7517 §4)', () => {
  const cases: { name: string; jwk: JWK; expected: string[] }[] = [
    { name: 'alg wins', jwk: { kty: 'RSA', alg: 'PS256' }, expected: ['PS256'] },
    { name: 'RSA without alg', jwk: { kty: 'RSA' }, expected: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'] },
    { name: 'EC P-256', jwk: { kty: 'EC', crv: 'P-256' }, expected: ['ES256'] },
    { name: 'EC P-521', jwk: { kty: 'EC', crv: 'P-521' }, expected: ['ES512'] },
    { name: 'Ed25519', jwk: { kty: 'OKP', crv: 'Ed25519' }, expected: ['EdDSA'] },
    { name: 'X25519 cannot sign', jwk: { kty: 'OKP', crv: 'X25519' }, expected: [] },
    { name: 'use enc', jwk: { kty: 'RSA', use: 'enc' }, expected: [] },
    { name: 'key_ops without verify', jwk: { kty: 'RSA', key_ops: ['encrypt'] }, expected: [] },
    { name: 'key_ops verify', jwk: { kty: 'EC', crv: 'P-384', key_ops: ['verify'] }, expected: ['ES384'] },
    { name: 'oct is not a JWKS signing key', jwk: { kty: 'oct' }, expected: [] },
  ]
  for (const c of cases) test(c.name, () => assert.deepEqual(keyAlgorithms(c.jwk), c.expected))
})

describe('inspectJwks', () => {
  test('real keys: usable under their algorithm, refused outside the allowlist', async () => {
    const rsa = { ...(await exportJWK((await generateKeyPair('RS256', { extractable: true })).publicKey)), kid: 'r1', alg: 'RS256' }
    const ec = { ...(await exportJWK((await generateKeyPair('ES256', { extractable: true })).publicKey)), kid: 'e1' }
    const findings = await inspectJwks({ keys: [rsa, ec] }, ['ES256'])
    assert.ok(Array.isArray(findings))
    assert.deepEqual(findings, [
      { kid: 'r1', algorithms: [], problem: 'for RS256, not allowed' },
      { kid: 'e1', algorithms: ['ES256'] },
    ])
  })
  test('a private key or a broken key is not usable', async () => {
    const pair = await generateKeyPair('ES256', { extractable: true })
    const priv = { ...(await exportJWK(pair.privateKey)), kid: 'p' }
    const broken = { kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA', kid: 'b' }
    const findings = await inspectJwks({ keys: [priv, broken] }, ['ES256'])
    assert.ok(Array.isArray(findings))
    assert.equal(findings[0]?.problem, 'holds private key material')
    assert.match(findings[1]?.problem ?? '', /^cannot be imported/)
  })
  test('documents that are not a key set', async () => {
    assert.equal(await inspectJwks({ keys: [] }, ['RS256']), 'the key set is empty')
    assert.equal(await inspectJwks([], ['RS256']), 'not a JWKS (expected {"keys": [...]})')
    assert.equal(await inspectJwks(null, ['RS256']), 'not a JWKS (expected {"keys": [...]})')
  })
})
