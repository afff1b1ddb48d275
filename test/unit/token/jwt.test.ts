import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { errors } from 'jose'
import { InvalidToken, VerifierUnavailable, type GatewayError } from '../../../src/errors.js'
import { translateJoseError } from '../../../src/token/jwt.js'

// The one place jose's errors become wire answers (style anchors, error model). Real jose error
// classes, as jwtVerify throws them; `payload` holds claims that must never reach a description.

const PAYLOAD = { sub: 'alice@example.com', scope: 'secret-scope' }
const claimFailed = (claim: string, reason: string) =>
  new errors.JWTClaimValidationFailed(`"${claim}" ${reason}`, PAYLOAD, claim, reason)

describe('translateJoseError', () => {
  const rows: { name: string; error: unknown; status: number; reason: string; description: string }[] = [
    { name: 'expired', error: new errors.JWTExpired('"exp" claim timestamp check failed', PAYLOAD, 'exp', 'check_failed'), status: 401, reason: 'expired', description: 'The token has expired' },
    { name: 'nbf in the future', error: claimFailed('nbf', 'check_failed'), status: 401, reason: 'not_yet_valid', description: 'The token is not valid yet' },
    { name: 'iat in the future', error: claimFailed('iat', 'check_failed'), status: 401, reason: 'not_yet_valid', description: 'The token is not valid yet' },
    { name: 'issuer mismatch', error: claimFailed('iss', 'check_failed'), status: 401, reason: 'issuer', description: 'The token was issued by an untrusted issuer' },
    { name: 'issuer missing', error: claimFailed('iss', 'missing'), status: 401, reason: 'issuer', description: 'The token was issued by an untrusted issuer' },
    { name: 'exp missing', error: claimFailed('exp', 'missing'), status: 401, reason: 'missing_claim', description: 'The token has no expiry' },
    { name: 'another claim missing', error: claimFailed('sub', 'missing'), status: 401, reason: 'missing_claim', description: 'The token lacks a required claim' },
    { name: 'exp of the wrong type', error: claimFailed('exp', 'invalid'), status: 401, reason: 'malformed_token', description: 'The token is malformed' },
    { name: 'nbf of the wrong type', error: claimFailed('nbf', 'invalid'), status: 401, reason: 'malformed_token', description: 'The token is malformed' },
    { name: 'bad signature', error: new errors.JWSSignatureVerificationFailed(), status: 401, reason: 'signature', description: 'The token signature is invalid' },
    { name: 'no matching key', error: new errors.JWKSNoMatchingKey(), status: 401, reason: 'unknown_key', description: 'The token was signed with an unknown key' },
    { name: 'algorithm not allowed', error: new errors.JOSEAlgNotAllowed('"alg" (Algorithm) Header Parameter value not allowed'), status: 401, reason: 'algorithm', description: 'The token uses an algorithm that is not allowed' },
    { name: 'algorithm not supported', error: new errors.JOSENotSupported('unsupported'), status: 401, reason: 'algorithm', description: 'The token uses an algorithm that is not allowed' },
    { name: 'invalid JWS', error: new errors.JWSInvalid('Invalid Compact JWS'), status: 401, reason: 'malformed_token', description: 'The token is malformed' },
    { name: 'invalid JWT', error: new errors.JWTInvalid('JWT Claims Set must be a top-level JSON object'), status: 401, reason: 'malformed_token', description: 'The token is malformed' },
    { name: 'JWKS timeout', error: new errors.JWKSTimeout(), status: 503, reason: 'verifier_unavailable', description: 'Token verification keys are unavailable' },
    { name: 'JWKS invalid', error: new errors.JWKSInvalid('JSON Web Key Set malformed'), status: 503, reason: 'verifier_unavailable', description: 'Token verification keys are unavailable' },
    { name: 'JWKS fetch failed', error: new errors.JOSEError('Expected 200 OK from the JSON Web Key Set HTTP response'), status: 503, reason: 'verifier_unavailable', description: 'Token verification keys are unavailable' },
    { name: 'network error', error: new TypeError('fetch failed'), status: 503, reason: 'verifier_unavailable', description: 'Token verification keys are unavailable' },
  ]
  for (const row of rows) {
    test(row.name, () => {
      const translated: GatewayError = translateJoseError(row.error)
      assert.equal(translated.status, row.status)
      assert.equal(translated.reason, row.reason)
      assert.equal(translated.description, row.description)
      assert.equal(translated.bearerError, row.status === 401 ? 'invalid_token' : undefined)
      assert.equal(translated.cause, row.error)
      assert.ok(!translated.description.includes('='))
      assert.ok(!translated.message.includes('alice') && !translated.message.includes('secret-scope'))
      if (row.status === 503) assert.equal(translated.retryAfter, 5)
    })
  }

  test('a GatewayError passes through unchanged', () => {
    const error = new InvalidToken('audience', 'The token was not issued for this resource')
    assert.equal(translateJoseError(error), error)
    const unavailable = new VerifierUnavailable()
    assert.equal(translateJoseError(unavailable), unavailable)
  })
})
