import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT, decodeJwt } from 'jose'
import { stringify } from 'yaml'
import { loadConfig } from '../../src/config/load.js'
import { events, type DecisionEvent } from '../../src/observability/events.js'
import { startGateway, type RunningGateway } from '../../src/server/http.js'
import { startAuthorizationServer, type AuthorizationServer } from '../support/authorization-server.js'
import { startRawBackend, type RawBackend } from '../support/raw-backend.js'
import { accessTokenClaims, hs256WithPublicKey } from '../support/tokens.js'

/**
 * Issue 4, several issuers through one gateway: oidc-provider A issues JWTs (verified by
 * signature, keys by discovery), oidc-provider B issues opaque tokens (introspected), and a
 * development issuer signs with a shared HMAC secret. JWTs are routed by `iss`; opaque tokens go
 * to B only. Per-issuer `maxTokenLifetime` and `requiredClaims` are checked on real tokens.
 */

const RESOURCE = 'https://mcp.example.com/mcp'
const HMAC_ISSUER = 'https://dev-issuer.example.com'
const HMAC_SECRET = 'dev-only-shared-secret-of-32-bytes!!'

let jwtAs: AuthorizationServer
let opaqueAs: AuthorizationServer
let backend: RawBackend
let dir: string
let secretFile: string
let hmacFile: string
const gateways: RunningGateway[] = []

before(async () => {
  jwtAs = await startAuthorizationServer({ resources: { [RESOURCE]: { scope: 'mcp:read mcp:write', format: 'jwt' } } })
  opaqueAs = await startAuthorizationServer({ resources: { [RESOURCE]: { scope: 'mcp:read mcp:write', format: 'opaque' } } })
  backend = await startRawBackend((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('{"jsonrpc":"2.0","id":1,"result":{}}')
  })
  dir = mkdtempSync(join(tmpdir(), 'mcp-gw-multi-issuer-'))
  secretFile = join(dir, 'client-secret')
  writeFileSync(secretFile, 'gateway-secret\n')
  chmodSync(secretFile, 0o600)
  hmacFile = join(dir, 'hmac-secret')
  writeFileSync(hmacFile, `${HMAC_SECRET}\n`)
  chmodSync(hmacFile, 0o600)
})

after(async () => {
  await Promise.all(gateways.map((g) => g.close()))
  await backend.close()
  await jwtAs.close()
  await opaqueAs.close()
  rmSync(dir, { recursive: true, force: true })
})

/** A gateway from a YAML file listing the issuers, with `MCP_AUTH_MODE=auto` as a user would run it. */
async function startMultiIssuerGateway(jwtIssuer: Record<string, unknown> = {}, required = ['mcp:read']): Promise<RunningGateway> {
  const file = join(dir, `gateway-${gateways.length}.yaml`)
  writeFileSync(
    file,
    stringify({
      listen: { host: '127.0.0.1', port: 0 },
      resource: { canonicalUri: RESOURCE, path: '/mcp' },
      backend: { url: backend.origin },
      scopes: { required, supported: [...new Set([...required, 'mcp:read', 'mcp:write'])] },
      authorizationServers: [
        { issuer: jwtAs.issuer, discovery: true, ...jwtIssuer },
        {
          issuer: opaqueAs.issuer,
          introspection: { endpoint: opaqueAs.introspectionEndpoint, clientId: 'gateway', clientSecretFile: secretFile },
        },
        { issuer: HMAC_ISSUER, hmacSecretFile: hmacFile },
      ],
    }),
  )
  const config = await loadConfig({ env: { MCP_AUTH_MODE: 'auto' }, argv: ['--config', file] })
  const gateway = await startGateway(config)
  gateways.push(gateway)
  return gateway
}

async function callMcp(gateway: RunningGateway, token: string): Promise<Response> {
  return fetch(`${gateway.url}/mcp`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
  })
}

async function expectInvalidToken(response: Response): Promise<void> {
  assert.equal(response.status, 401)
  assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer error="invalid_token"/)
  await response.body?.cancel()
}

const token = (as: AuthorizationServer, scope = 'mcp:read') => as.clientCredentialsToken({ resource: RESOURCE, scope })

const hmacToken = (claims: Record<string, unknown> = {}) =>
  new SignJWT({ ...accessTokenClaims({ issuer: HMAC_ISSUER, audience: RESOURCE, scope: 'mcp:read' }), ...claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
    .sign(new TextEncoder().encode(HMAC_SECRET))

describe('one gateway, three issuers (JWT by discovery, introspection, HMAC)', () => {
  let gateway: RunningGateway
  const decisions: DecisionEvent[] = []
  const onDecision = (event: unknown) => decisions.push(event as DecisionEvent)

  before(async () => {
    gateway = await startMultiIssuerGateway()
    events.decision.subscribe(onDecision)
  })
  after(() => events.decision.unsubscribe(onDecision))

  test('the metadata lists every issuer exactly as each publishes it', async () => {
    const response = await fetch(`${gateway.url}/.well-known/oauth-protected-resource/mcp`)
    assert.equal(response.status, 200)
    const document = (await response.json()) as { authorization_servers: string[]; resource: string }
    assert.equal(document.resource, RESOURCE)
    assert.deepEqual(document.authorization_servers, [jwtAs.issuer, opaqueAs.issuer, HMAC_ISSUER])
  })

  test('a JWT of the first AS and an opaque token of the second are both accepted, each credited to its issuer', async () => {
    const jwt = await token(jwtAs)
    const opaque = await token(opaqueAs)
    assert.equal(decodeJwt(jwt).iss, jwtAs.issuer)
    assert.equal(opaque.split('.').length, 1)
    decisions.length = 0
    assert.equal((await callMcp(gateway, jwt)).status, 200)
    assert.equal((await callMcp(gateway, opaque)).status, 200)
    await new Promise((resolve) => setImmediate(resolve))
    assert.deepEqual(
      decisions.map((d) => [d.status, d.issuer]),
      [
        [200, jwtAs.issuer],
        [200, opaqueAs.issuer],
      ],
    )
  })

  test('opaque tokens go to the introspecting AS only; JWTs are never introspected', async () => {
    const jwtAsBefore = jwtAs.requestCount('/token/introspection')
    const opaqueBefore = opaqueAs.requestCount('/token/introspection')
    await expectInvalidToken(await callMcp(gateway, 'not-a-token-any-as-issued'))
    assert.equal((await callMcp(gateway, await token(jwtAs))).status, 200)
    assert.equal(jwtAs.requestCount('/token/introspection'), jwtAsBefore)
    assert.equal(opaqueAs.requestCount('/token/introspection'), opaqueBefore + 1)
  })

  test('an HS256 token of the development issuer passes; the same secret cannot forge another issuer', async () => {
    assert.equal((await callMcp(gateway, await hmacToken())).status, 200)
    await expectInvalidToken(await callMcp(gateway, await hmacToken({ iss: jwtAs.issuer })))
    await expectInvalidToken(await callMcp(gateway, await hmacToken({ aud: 'https://other.example.com/mcp' })))
  })

  test("HS256 signed with the JWT AS's public key (key confusion) is refused", async () => {
    const jwks = (await (await fetch(jwtAs.jwksUri)).json()) as { keys: Record<string, unknown>[] }
    const rsa = jwks.keys.find((k) => k['kty'] === 'RSA')
    assert.ok(rsa !== undefined)
    const forged = await hs256WithPublicKey(rsa, accessTokenClaims({ issuer: jwtAs.issuer, audience: RESOURCE, scope: 'mcp:read' }))
    await expectInvalidToken(await callMcp(gateway, forged))
  })

  test('a JWT from an issuer nobody configured is refused', async () => {
    const stranger = await new SignJWT(accessTokenClaims({ issuer: 'https://stranger.example.com', audience: RESOURCE, scope: 'mcp:read' }))
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
      .sign(new TextEncoder().encode(HMAC_SECRET))
    await expectInvalidToken(await callMcp(gateway, stranger))
  })
})

describe('per-issuer maxTokenLifetime and requiredClaims on real tokens', () => {
  test('a one-hour token is refused under a 15 minute limit and accepted under a 2 hour one', async () => {
    const jwt = await token(jwtAs)
    const { exp, iat } = decodeJwt(jwt)
    assert.equal((exp ?? 0) - (iat ?? 0), 3600)
    const strict = await startMultiIssuerGateway({ maxTokenLifetime: '15m' })
    const response = await callMcp(strict, jwt)
    assert.equal(response.status, 401)
    assert.match(response.headers.get('www-authenticate') ?? '', /error_description="The token lives longer than this resource allows"/)
    const lenient = await startMultiIssuerGateway({ maxTokenLifetime: '2h' })
    assert.equal((await callMcp(lenient, jwt)).status, 200)
    // The limit is per issuer: the introspected token of the other AS is not affected.
    assert.equal((await callMcp(strict, await token(opaqueAs))).status, 200)
  })

  test('a missing required claim is a 401; a present one passes', async () => {
    const jwt = await token(jwtAs)
    const demanding = await startMultiIssuerGateway({ requiredClaims: ['acr'] })
    await expectInvalidToken(await callMcp(demanding, jwt))
    const satisfied = await startMultiIssuerGateway({ requiredClaims: ['client_id', 'jti'] })
    assert.equal((await callMcp(satisfied, jwt)).status, 200)
  })

  test('a repeated token (served from the verified-token cache) still carries its issuer\'s scope mapping', async () => {
    // Only the JWT issuer maps `mcp:read` to `api://mcp/mcp:read`, the one scope this gateway requires.
    const gateway = await startMultiIssuerGateway({ scopePrefix: 'api://mcp/' }, ['api://mcp/mcp:read'])
    const jwt = await token(jwtAs)
    for (let i = 0; i < 3; i++) {
      const response = await callMcp(gateway, jwt)
      assert.equal(response.status, 200, `request ${i + 1}`)
      await response.body?.cancel()
    }
    // The same scope from an issuer without the mapping does not reach the requirement.
    const unmapped = await callMcp(gateway, await hmacToken())
    assert.equal(unmapped.status, 403)
    await unmapped.body?.cancel()
  })
})
