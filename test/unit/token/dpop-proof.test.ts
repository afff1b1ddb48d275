import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync, sign } from 'node:crypto'
import { SignJWT } from 'jose'
import { InvalidDpopProof } from '../../../src/errors.js'
import { accessTokenHash, checkDpopProof, normalizeHtu, type DpopProofExpectation } from '../../../src/token/dpop-proof.js'
import { createDpopKey, makeProof, type DpopKey, type ProofOptions } from '../../support/dpop.js'

// RFC 9449 §4.3, one row per check, with real proofs signed by jose. The clock is fixed.

const NOW = 1_800_000_000
const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.eyJjbmYiOnt9fQ.c2ln'
const URI = 'https://mcp.example.com/mcp'
const expectation: DpopProofExpectation = {
  method: 'POST',
  uri: URI,
  accessToken: TOKEN,
  algorithms: ['ES256', 'EdDSA', 'RS256', 'PS256'],
  maxAgeSeconds: 300,
  nowSeconds: NOW,
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

/** An RS256 proof signed with node:crypto, for headers jose will not sign (`crit`) and keys it will not make. */
function rsaProof(modulusLength: number, header: Record<string, unknown> = {}): string {
  const pair = generateKeyPairSync('rsa', { modulusLength })
  const jwk = pair.publicKey.export({ format: 'jwk' })
  const input = `${b64({ typ: 'dpop+jwt', alg: 'RS256', jwk, ...header })}.${b64({ htm: 'POST', htu: URI, iat: NOW, jti: 'r', ath: accessTokenHash(TOKEN) })}`
  return `${input}.${sign('sha256', Buffer.from(input), pair.privateKey).toString('base64url')}`
}

describe('checkDpopProof', async () => {
  const es = await createDpopKey('ES256')
  const other = await createDpopKey('ES256')
  const base: ProofOptions = { htm: 'POST', htu: URI, accessToken: TOKEN, iat: NOW }

  test('accepts an RS256 proof signed with node:crypto (the control for the rows built the same way)', async () => {
    assert.ok((await checkDpopProof(rsaProof(2048), expectation)).jkt)
  })

  for (const alg of ['ES256', 'EdDSA', 'RS256', 'PS256']) {
    test(`accepts a fresh ${alg} proof and returns its key thumbprint`, async () => {
      const key = alg === 'ES256' ? es : await createDpopKey(alg)
      const proof = await checkDpopProof(await makeProof(key, { ...base, jti: 'j1' }), expectation)
      assert.equal(proof.jkt, key.jkt)
      assert.equal(proof.jti, 'j1')
      assert.equal(proof.iat, NOW)
    })
  }

  test('a header seen before skips its decoding and key import, never its signature check or the allowlist', async () => {
    const first = await makeProof(es, { ...base, jti: 'kept-1' })
    const second = await makeProof(es, { ...base, jti: 'kept-2' })
    const [header, payload] = second.split('.') as [string, string]
    assert.equal(header, first.split('.')[0], 'one key, one encoded header')
    assert.equal((await checkDpopProof(first, expectation)).jkt, es.jkt)
    const description = async (proof: string, expect = expectation) =>
      checkDpopProof(proof, expect).then(
        () => 'accepted',
        (error: InvalidDpopProof) => error.description,
      )
    assert.equal(await description(`${header}.${payload}.${first.split('.')[2]}`), 'The DPoP proof signature is invalid')
    assert.equal(await description(second, { ...expectation, algorithms: ['EdDSA'] }), 'The DPoP proof uses an algorithm that is not allowed')
    assert.equal(await description(second), 'accepted')
  })

  const accepted: { name: string; options: Partial<ProofOptions> }[] = [
    { name: 'htu with a query and fragment', options: { htu: `${URI}?x=1#f` } },
    { name: 'htu with upper-case scheme and host and the default port', options: { htu: 'HTTPS://MCP.Example.com:443/mcp' } },
    { name: 'htu with a percent-encoded unreserved character', options: { htu: 'https://mcp.example.com/%6Dcp' } },
    { name: 'iat at the edge of the window, past', options: { iat: NOW - 300 } },
    { name: 'iat at the edge of the window, future', options: { iat: NOW + 300 } },
  ]
  for (const row of accepted) {
    test(`accepts ${row.name}`, async () => {
      const proof = await checkDpopProof(await makeProof(es, { ...base, ...row.options }), expectation)
      assert.equal(proof.jkt, es.jkt)
    })
  }

  const refused: { name: string; proof: (key: DpopKey) => Promise<string>; description: string; expect?: Partial<DpopProofExpectation> }[] = [
    { name: 'a proof over 8 KiB', proof: (k) => makeProof(k, { ...base, claims: { pad: 'x'.repeat(9000) } }), description: 'The DPoP proof is too large' },
    { name: 'not a JWS', proof: async () => 'not-a-proof', description: 'The DPoP proof is malformed' },
    { name: 'typ JWT', proof: (k) => makeProof(k, { ...base, header: { typ: 'JWT' } }), description: 'The DPoP proof has the wrong type' },
    { name: 'no typ', proof: (k) => makeProof(k, { ...base, header: { typ: undefined } }), description: 'The DPoP proof has the wrong type' },
    {
      name: 'alg none',
      proof: async (k) => `${b64({ typ: 'dpop+jwt', alg: 'none', jwk: k.publicJwk })}.${b64({ htm: 'POST', htu: URI, iat: NOW, jti: 'n' })}.`,
      description: 'The DPoP proof uses an algorithm that is not allowed',
    },
    {
      name: 'an HMAC proof',
      proof: () =>
        new SignJWT({ htm: 'POST', htu: URI, iat: NOW, jti: 'h' })
          .setProtectedHeader({ typ: 'dpop+jwt', alg: 'HS256', jwk: { kty: 'oct', k: 'c2VjcmV0' } } as never)
          .sign(new TextEncoder().encode('secret-secret-secret-secret-1234')),
      description: 'The DPoP proof uses an algorithm that is not allowed',
    },
    {
      name: 'an algorithm outside the configured list',
      proof: (k) => makeProof(k, base),
      expect: { algorithms: ['EdDSA'] },
      description: 'The DPoP proof uses an algorithm that is not allowed',
    },
    { name: 'no jwk', proof: (k) => makeProof(k, { ...base, header: { jwk: undefined } }), description: 'The DPoP proof carries no public key' },
    { name: 'a private jwk', proof: (k) => makeProof(k, { ...base, header: { jwk: k.privateJwk } }), description: 'The DPoP proof carries a private key' },
    { name: 'a symmetric jwk', proof: (k) => makeProof(k, { ...base, header: { jwk: { kty: 'oct', k: 'c2VjcmV0' } } }), description: 'The DPoP proof carries a private key' },
    {
      name: 'signed by another key than its jwk',
      proof: (k) => makeProof(k, { ...base, header: { jwk: other.publicJwk } }),
      description: 'The DPoP proof signature is invalid',
    },
    {
      name: 'a key of another curve than the alg names (P-384 under ES256)',
      proof: async (k) => makeProof(k, { ...base, header: { jwk: (await createDpopKey('ES384')).publicJwk } }),
      description: 'The DPoP proof carries no usable public key',
    },
    { name: 'a jwk whose alg is another', proof: (k) => makeProof(k, { ...base, header: { jwk: { ...k.publicJwk, alg: 'ES384' } } }), description: 'The DPoP proof carries no usable public key' },
    { name: 'a jwk for encryption', proof: (k) => makeProof(k, { ...base, header: { jwk: { ...k.publicJwk, use: 'enc' } } }), description: 'The DPoP proof carries no usable public key' },
    { name: 'a critical header extension', proof: async () => rsaProof(2048, { crit: ['x-ext'], 'x-ext': 1 }), description: 'The DPoP proof is malformed' },
    { name: 'an RSA key under 2048 bits', proof: async () => rsaProof(1024), description: 'The DPoP proof carries no usable public key' },
    { name: 'another method', proof: (k) => makeProof(k, { ...base, htm: 'GET' }), description: 'The DPoP proof was made for another method' },
    { name: 'another path', proof: (k) => makeProof(k, { ...base, htu: 'https://mcp.example.com/other' }), description: 'The DPoP proof was made for another URI' },
    { name: 'another host', proof: (k) => makeProof(k, { ...base, htu: 'https://evil.example.com/mcp' }), description: 'The DPoP proof was made for another URI' },
    { name: 'another scheme', proof: (k) => makeProof(k, { ...base, htu: 'http://mcp.example.com/mcp' }), description: 'The DPoP proof was made for another URI' },
    { name: 'a relative htu', proof: (k) => makeProof(k, { ...base, htu: '/mcp' }), description: 'The DPoP proof was made for another URI' },
    { name: 'a stale iat', proof: (k) => makeProof(k, { ...base, iat: NOW - 301 }), description: 'The DPoP proof is outside its time window' },
    { name: 'a future iat', proof: (k) => makeProof(k, { ...base, iat: NOW + 301 }), description: 'The DPoP proof is outside its time window' },
    { name: 'an ath of another token', proof: (k) => makeProof(k, { ...base, accessToken: 'other-token' }), description: 'The DPoP proof was made for another access token' },
    { name: 'no ath', proof: (k) => makeProof(k, { ...base, accessToken: undefined }), description: 'The DPoP proof was made for another access token' },
    { name: 'no jti', proof: (k) => makeProof(k, { ...base, claims: { jti: undefined } }), description: 'The DPoP proof has no valid jti' },
    { name: 'a non-string nonce', proof: (k) => makeProof(k, { ...base, claims: { nonce: 7 } }), description: 'The DPoP proof is malformed' },
  ]
  for (const row of refused) {
    test(`refuses ${row.name}`, async () => {
      const proof = await row.proof(es)
      await assert.rejects(checkDpopProof(proof, { ...expectation, ...row.expect }), (error: unknown) => {
        assert.ok(error instanceof InvalidDpopProof)
        assert.equal(error.status, 401)
        assert.equal(error.bearerError, 'invalid_dpop_proof')
        assert.equal(error.reason, 'invalid_dpop_proof')
        assert.equal(error.scheme, 'DPoP')
        assert.equal(error.description, row.description)
        return true
      })
    })
  }
})

describe('normalizeHtu', () => {
  const rows: [string, string | undefined][] = [
    ['https://A.example.com:443/x/../mcp?q#f', 'https://a.example.com/mcp'],
    ['http://127.0.0.1:80/mcp', 'http://127.0.0.1/mcp'],
    ['https://a.example.com', 'https://a.example.com/'],
    ['https://a.example.com/a%2fb', 'https://a.example.com/a%2Fb'],
    ['ftp://a.example.com/mcp', undefined],
    ['not a url', undefined],
  ]
  for (const [input, expected] of rows) test(input, () => assert.equal(normalizeHtu(input), expected))
})
