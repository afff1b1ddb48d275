import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { parseChallenges, sdkChallengeView } from '../../../src/probe/www-authenticate.js'

describe('parseChallenges (RFC 9110 §11.6.1)', () => {
  test('the gateway no-credentials challenge (RFC 9728 §5.1)', () => {
    assert.deepEqual(parseChallenges('Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="mcp:tools"'), [
      { scheme: 'Bearer', params: { resource_metadata: 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp', scope: 'mcp:tools' } },
    ])
  })
  test('RFC 6750 §3 example with an escaped quote in a quoted-string', () => {
    assert.deepEqual(parseChallenges('Bearer realm="example", error="invalid_token", error_description="The \\"token\\" expired"'), [
      { scheme: 'Bearer', params: { realm: 'example', error: 'invalid_token', error_description: 'The "token" expired' } },
    ])
  })
  test('RFC 9110 §11.6.1 example: two challenges on one line, a token value', () => {
    assert.deepEqual(parseChallenges('Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"'), [
      { scheme: 'Newauth', params: { realm: 'apps', type: '1', title: 'Login to "apps"' } },
      { scheme: 'Basic', params: { realm: 'simple' } },
    ])
  })
  test('parameter names are case-insensitive; the first occurrence wins', () => {
    assert.deepEqual(parseChallenges('bearer Scope="a", scope="b"'), [{ scheme: 'bearer', params: { scope: 'a' } }])
  })
  test('token68 and a bare scheme', () => {
    assert.deepEqual(parseChallenges('Negotiate abc123=='), [{ scheme: 'Negotiate', params: { token68: 'abc123==' } }])
    assert.deepEqual(parseChallenges('Bearer'), [{ scheme: 'Bearer', params: {} }])
  })
})

describe('sdkChallengeView (MCP SDK v1 extractWWWAuthenticateParams)', () => {
  test('reads the gateway challenge like the RFC parser', () => {
    const view = sdkChallengeView('Bearer error="invalid_token", scope="a b", resource_metadata="https://x/m", error_description="d"')
    assert.deepEqual(view, { bearer: true, resourceMetadata: 'https://x/m', scope: 'a b', error: 'invalid_token' })
  })
  test('takes the first name= anywhere: scope= inside error_description wins when it comes first', () => {
    const view = sdkChallengeView('Bearer error_description="need scope=admin", scope="mcp:tools"')
    // The unquoted branch `[^\s,]+` runs to the closing quote of error_description.
    assert.equal(view.scope, 'admin"')
  })
  test('a Basic challenge first hides the Bearer one from the SDK', () => {
    assert.equal(sdkChallengeView('Basic realm="x", Bearer scope="a"').bearer, false)
  })
})
