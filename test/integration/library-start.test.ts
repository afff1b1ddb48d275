import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { reservePort } from '../../src/demo/reserve-port.js'
import { AuthorizationServerUnavailable, ConfigError, ForbiddenOrigin, InsufficientScope, MissingCredentials } from '../../src/errors.js'
import { createResourceServer, type ResourceServer } from '../../src/library/resource-server.js'
import { startAuthorizationServer, type AuthorizationServer } from '../support/authorization-server.js'

/**
 * Issue 13: `createResourceServer` and `fromEnv` at start (options validated like the gateway's,
 * discovery and JWKS loaded or a clear rejection), and the core's steps used on their own.
 */

const RESOURCE = 'http://127.0.0.1:9/mcp'
let as: AuthorizationServer

before(async () => {
  as = await startAuthorizationServer({ resources: { [RESOURCE]: { scope: 'mcp:tools repo:admin', format: 'jwt' } } })
})
after(() => as.close())

describe('fromEnv with only OAUTH_ISSUER_URL and OAUTH_AUDIENCE', () => {
  let rs: ResourceServer
  before(async () => {
    rs = await createResourceServer.fromEnv(
      { OAUTH_ISSUER_URL: as.issuer, OAUTH_AUDIENCE: RESOURCE, MCP_BACKEND: '127.0.0.1:1' },
      { scopes: { required: ['mcp:tools'], tools: { delete_repo: ['repo:admin'] } } },
    )
  })
  after(() => rs.close())

  test('finds the keys by discovery and verifies a token of that issuer', async () => {
    const token = await as.clientCredentialsToken({ resource: RESOURCE, scope: 'mcp:tools' })
    const { principal, auth } = await rs.authenticate({ authorization: `Bearer ${token}` })
    assert.equal(principal.issuer, as.issuer)
    assert.equal(auth.token, token)
    assert.deepEqual(auth.scopes, ['mcp:tools'])
    assert.equal(auth.resource?.href, RESOURCE)
    assert.equal(auth.extra?.iss, as.issuer)
    assert.equal(auth.clientId, 'm2m')
  })

  test('a gateway-only variable is ignored, with a notice', () => {
    assert.ok(rs.config.notices.some((n) => n.startsWith('MCP_BACKEND is ignored')), rs.config.notices.join('\n'))
  })

  test('authorize: per-tool step-up is an InsufficientScope whose refusal is the gateway 403', async () => {
    const token = await as.clientCredentialsToken({ resource: RESOURCE, scope: 'mcp:tools' })
    const { principal } = await rs.authenticate(new Headers({ authorization: `Bearer ${token}` }))
    const body = { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'delete_repo', arguments: {} } }
    const headers = { 'mcp-protocol-version': '2025-06-18' }
    assert.equal(rs.authorize(principal, { ...body, params: { name: 'echo', arguments: {} } }, headers)?.target, 'echo')
    let refused: unknown
    try {
      rs.authorize(principal, JSON.stringify(body), headers)
    } catch (error) {
      refused = error
    }
    assert.ok(refused instanceof InsufficientScope)
    const answer = rs.refusal(refused)
    assert.equal(answer.status, 403)
    assert.equal(answer.headers['cache-control'], 'no-store')
    assert.match(String(answer.headers['www-authenticate'] ?? ''), /^Bearer error="insufficient_scope", scope="mcp:tools repo:admin", resource_metadata="http:\/\/127\.0\.0\.1:9\/\.well-known\/oauth-protected-resource\/mcp", error_description="/)
    assert.equal(JSON.parse(answer.body).error, 'insufficient_scope')
  })

  test('an invalid Origin is a 403 before the token is looked at; a loopback one passes (MCP transports §Security)', async () => {
    const token = await as.clientCredentialsToken({ resource: RESOURCE, scope: 'mcp:tools' })
    const rebinding = { origin: 'https://evil.example', authorization: `Bearer ${token}` }
    await assert.rejects(rs.authenticate(rebinding), ForbiddenOrigin)
    await assert.rejects(rs.authenticate({ origin: 'https://evil.example' }), ForbiddenOrigin)
    const { principal } = await rs.authenticate({ origin: 'http://127.0.0.1:9', authorization: `Bearer ${token}` })
    assert.equal(principal.issuer, as.issuer)
  })

  test('authenticate without a header is MissingCredentials; metadata only at its URLs', async () => {
    await assert.rejects(rs.authenticate({}), MissingCredentials)
    assert.equal(JSON.parse(rs.metadata('/.well-known/oauth-protected-resource/mcp') ?? '{}').resource, RESOURCE)
    assert.equal(rs.metadata('/.well-known/oauth-protected-resource'), rs.metadata('/.well-known/oauth-protected-resource/mcp'))
    assert.equal(rs.metadata('/mcp'), undefined)
    assert.equal(rs.protects('/mcp'), true)
    assert.equal(rs.protects('/mcpx'), false)
  })
})

describe('createResourceServer refuses to start', () => {
  test('without an audience, saying so clearly', async () => {
    const rejected = await createResourceServer.fromEnv({ OAUTH_ISSUER_URL: as.issuer }).then(
      () => assert.fail('started'),
      (error: unknown) => error,
    )
    assert.ok(rejected instanceof ConfigError)
    assert.deepEqual(rejected.problems, [
      'OAUTH_AUDIENCE (or MCP_CANONICAL_URI) is required but not set: the canonical URI of this MCP server, ' +
        'e.g. https://mcp.example.com/mcp; tokens must name it as their audience (RFC 8707)',
    ])
  })

  test('with every problem of the options at once, in the gateway messages; gateway-only keys refused', async () => {
    const options = { resource: 'ftp://mcp.example.com/mcp', authorizationServers: [], backend: { url: '127.0.0.1:1' } }
    const rejected = await createResourceServer(options as never).then(
      () => assert.fail('started'),
      (error: unknown) => error,
    )
    assert.ok(rejected instanceof ConfigError)
    assert.equal(rejected.problems.length, 3, rejected.message)
    assert.ok(rejected.problems.some((p) => p.includes('must be an https URL; http is allowed only for loopback hosts')))
    assert.ok(rejected.problems.some((p) => p.includes('at least one authorization server is required')))
    assert.ok(rejected.problems.some((p) => p.includes('backend')))
  })

  test('when the discovery document is unreachable, naming the URL and the cause', async () => {
    const port = await reservePort()
    const issuer = `http://127.0.0.1:${port}`
    await assert.rejects(
      createResourceServer({ resource: RESOURCE, authorizationServers: [{ issuer }] }),
      (error: unknown) => {
        assert.ok(error instanceof AuthorizationServerUnavailable)
        assert.equal(error.url, `${issuer}/.well-known/oauth-authorization-server`)
        assert.match(error.message, new RegExp(`^cannot load ${issuer}/\\.well-known/oauth-authorization-server: .*ECONNREFUSED`))
        return true
      },
    )
  })

  test('when the JWKS is unreachable or missing, naming the URL and the cause', async () => {
    const port = await reservePort()
    const dead = `http://127.0.0.1:${port}/jwks`
    await assert.rejects(
      createResourceServer({ resource: RESOURCE, authorizationServers: [{ issuer: as.issuer, jwksUri: dead }] }),
      { name: 'AuthorizationServerUnavailable', message: `cannot load ${dead}: unreachable (ECONNREFUSED)` },
    )
    const missing = `${as.url}/no-such-jwks`
    await assert.rejects(
      createResourceServer({ resource: RESOURCE, authorizationServers: [{ issuer: as.issuer, jwksUri: missing }] }),
      { name: 'AuthorizationServerUnavailable', message: `cannot load ${missing}: HTTP 404` },
    )
  })
})
