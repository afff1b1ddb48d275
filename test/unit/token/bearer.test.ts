import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { GatewayError, InvalidRequest, MissingCredentials } from '../../../src/errors.js'
import { checkTokenOnlyInHeader, extractBearerToken } from '../../../src/token/bearer.js'

// RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token;
// b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
// https://www.rfc-editor.org/rfc/rfc6750#section-2.1

const JWT_LIKE = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl'

describe('extractBearerToken: accepted', () => {
  const rows: { name: string; header: string; token: string }[] = [
    { name: 'canonical scheme', header: `Bearer ${JWT_LIKE}`, token: JWT_LIKE },
    { name: 'lower-case scheme (RFC 9110 §11.1)', header: 'bearer abc', token: 'abc' },
    { name: 'upper-case scheme', header: 'BEARER abc', token: 'abc' },
    { name: 'mixed-case scheme', header: 'bEaReR abc', token: 'abc' },
    { name: 'several spaces (1*SP)', header: 'Bearer   abc', token: 'abc' },
    { name: 'trailing space', header: 'Bearer abc ', token: 'abc' },
    { name: 'every b64token character', header: 'Bearer AZaz09-._~+/', token: 'AZaz09-._~+/' },
    { name: 'trailing padding', header: 'Bearer abc==', token: 'abc==' },
    { name: 'RFC 6750 §2.1 example', header: 'Bearer mF_9.B5f-4.1JqM', token: 'mF_9.B5f-4.1JqM' },
  ]
  for (const row of rows) {
    test(row.name, () => {
      assert.equal(extractBearerToken(row.header), row.token)
    })
  }
})

describe('extractBearerToken: no Bearer credentials -> 401 without an error code (RFC 6750 §3.1)', () => {
  const rows: { name: string; header: string | undefined }[] = [
    { name: 'no header', header: undefined },
    { name: 'empty header', header: '' },
    { name: 'Basic', header: 'Basic dXNlcjpwYXNz' },
    { name: 'DPoP', header: 'DPoP abc' },
    { name: 'another scheme alone', header: 'Negotiate' },
    { name: 'a scheme that only starts with bearer', header: 'Bearerabc' },
  ]
  for (const row of rows) {
    test(row.name, () => {
      assert.throws(
        () => extractBearerToken(row.header),
        (error: unknown) => {
          assert.ok(error instanceof MissingCredentials)
          assert.equal(error.status, 401)
          assert.equal(error.bearerError, undefined)
          assert.equal(error.reason, 'no_credentials')
          assert.equal(error.description, 'Bearer access token required')
          return true
        },
      )
    })
  }
})

describe('extractBearerToken: malformed -> 400 invalid_request', () => {
  const MALFORMED = 'Malformed Bearer authorization header'
  const rows: { name: string; header: string | string[]; description: string }[] = [
    { name: 'scheme without a token', header: 'Bearer', description: MALFORMED },
    { name: 'scheme and a space only', header: 'Bearer ', description: MALFORMED },
    { name: 'two tokens', header: 'Bearer abc def', description: MALFORMED },
    { name: 'padding in the middle', header: 'Bearer ab=c', description: MALFORMED },
    { name: 'comma (a second credential)', header: 'Bearer abc, Basic xyz', description: MALFORMED },
    { name: 'quoted token', header: 'Bearer "abc"', description: MALFORMED },
    { name: 'auth-param form', header: 'Bearer token="abc"', description: MALFORMED },
    { name: 'tab instead of space', header: 'Bearer\tabc', description: MALFORMED },
    { name: 'non-ASCII', header: 'Bearer abcé', description: MALFORMED },
    { name: 'only padding', header: 'Bearer ==', description: MALFORMED },
    { name: 'two Authorization headers', header: ['Bearer abc', 'Bearer abc'], description: 'Send exactly one Authorization header' },
    { name: 'Bearer and Basic headers', header: ['Bearer abc', 'Basic dXNlcjpwYXNz'], description: 'Send exactly one Authorization header' },
  ]
  for (const row of rows) {
    test(row.name, () => {
      assert.throws(
        () => extractBearerToken(row.header),
        (error: unknown) => {
          assert.ok(error instanceof InvalidRequest)
          assert.equal(error.status, 400)
          assert.equal(error.bearerError, 'invalid_request')
          assert.equal(error.reason, 'malformed_authorization')
          assert.equal(error.description, row.description)
          return true
        },
      )
    })
  }

  test('the description never echoes the header', () => {
    const secret = 'Bearer sEcReT sEcReT'
    try {
      extractBearerToken(secret)
      assert.fail('expected a throw')
    } catch (error) {
      assert.ok(error instanceof GatewayError)
      assert.ok(!error.message.includes('sEcReT'))
      assert.ok(!error.description.includes('sEcReT'))
    }
  })
})

// RFC 6750 §2.2 (form body) and §2.3 (query) are not supported: such requests are 400 invalid_request.
describe('checkTokenOnlyInHeader', () => {
  const refused: { name: string; url: string; contentType?: string; reason: string }[] = [
    { name: 'access_token in the query', url: '/mcp?access_token=abc', reason: 'token_in_query' },
    { name: 'access_token after other parameters', url: '/mcp?a=1&access_token=abc', reason: 'token_in_query' },
    { name: 'access_token empty', url: '/mcp?access_token', reason: 'token_in_query' },
    { name: 'access_token with a percent-encoded name', url: '/mcp?access%5Ftoken=abc', reason: 'token_in_query' },
    { name: 'a form body', url: '/mcp', contentType: 'application/x-www-form-urlencoded', reason: 'form_body' },
    { name: 'a form body with a charset', url: '/mcp', contentType: 'Application/X-WWW-Form-Urlencoded; charset=utf-8', reason: 'form_body' },
  ]
  for (const row of refused) {
    test(`refused: ${row.name}`, () => {
      assert.throws(
        () => checkTokenOnlyInHeader(row.url, row.contentType),
        (error: unknown) => {
          assert.ok(error instanceof InvalidRequest)
          assert.equal(error.status, 400)
          assert.equal(error.bearerError, 'invalid_request')
          assert.equal(error.reason, row.reason)
          assert.doesNotMatch(error.description, /=|abc/)
          return true
        },
      )
    })
  }

  const passed: { name: string; url: string; contentType?: string }[] = [
    { name: 'no query', url: '/mcp', contentType: 'application/json' },
    { name: 'another parameter', url: '/mcp?tenant=a' },
    { name: 'a parameter that only contains the name', url: '/mcp?my_access_token=1&x=access_token' },
    { name: 'a JSON body', url: '/mcp', contentType: 'application/json; charset=utf-8' },
    { name: 'a media type that only starts like a form', url: '/mcp', contentType: 'application/x-www-form-urlencoded-ish' },
  ]
  for (const row of passed) {
    test(`passes: ${row.name}`, () => {
      assert.doesNotThrow(() => checkTokenOnlyInHeader(row.url, row.contentType))
    })
  }
})
