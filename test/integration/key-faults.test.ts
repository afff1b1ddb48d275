import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Config } from '../../src/config/normalize.js'
import { events, type NoticeEvent } from '../../src/observability/events.js'
import { startAuthorizationServer, type AuthorizationServer } from '../support/authorization-server.js'
import { startFailingAuthorizationServer, type FailingAuthorizationServer } from '../support/failing-as.js'
import { headerLines, postMcp, send, startTestGateway, waitFor, type RawResponse, type TestGateway } from '../support/gateway.js'
import { startMcpBackend, type McpBackend } from '../support/mcp-backend.js'
import { accessTokenClaims, createTestKeys, mintJwt } from '../support/tokens.js'

// Keys of a real authorization server (oidc-provider) seen through an endpoint that can go down or
// answer garbage on demand (failing-as.ts): outages, reloads during them, rotations and removals.

/** The resource the AS issues tokens for; each gateway names it whatever port it listens on. */
const RESOURCE = 'https://mcp.test/mcp'
const SCOPE = 'mcp:read'

let as: AuthorizationServer
let backend: McpBackend
const closers: (() => Promise<void>)[] = []

before(async () => {
  as = await startAuthorizationServer({ resources: { [RESOURCE]: { scope: SCOPE, format: 'jwt' } } })
  backend = await startMcpBackend({ mode: 'stateless' })
})
after(async () => {
  for (const close of closers.reverse()) await close()
  await backend?.close()
  await as?.close()
})

async function startJwks(): Promise<FailingAuthorizationServer> {
  const jwks = await startFailingAuthorizationServer({ upstream: as.jwksUri })
  closers.push(() => jwks.close())
  return jwks
}

async function startGateway(jwksUri: string, env: Record<string, string> = {}): Promise<TestGateway> {
  const gateway = await startTestGateway({
    env: {
      MCP_AUTHORIZATION_SERVER: as.issuer,
      MCP_JWKS_URI: jwksUri,
      MCP_BACKEND: backend.origin,
      MCP_CANONICAL_URI: RESOURCE,
      MCP_REQUIRED_SCOPE: SCOPE,
      ...env,
    },
  })
  closers.push(() => gateway.close())
  return gateway
}

const token = () => as.clientCredentialsToken({ resource: RESOURCE, scope: SCOPE })

function assertUnavailable(response: RawResponse): void {
  assert.equal(response.status, 503, response.body)
  const retryAfter = Number(headerLines(response, 'retry-after')[0])
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 30, `Retry-After ${retryAfter}`)
  assert.equal((JSON.parse(response.body) as { error: string }).error, 'verifier_unavailable')
}

function assertUnknownKey(response: RawResponse): void {
  assert.equal(response.status, 401, response.body)
  assert.match(String(response.headers['www-authenticate']), /error="invalid_token".*error_description="The token was signed with an unknown key"/)
}

/** A token for RESOURCE from the AS's issuer, signed by a key the AS never published. */
async function unknownKeyToken(): Promise<string> {
  const keys = await createTestKeys()
  return mintJwt({ key: keys.rsa, claims: accessTokenClaims({ issuer: as.issuer, audience: RESOURCE, scope: SCOPE }) })
}

function captureNotices(): { messages: string[]; stop(): void } {
  const messages: string[] = []
  const onNotice = (message: unknown) => messages.push((message as NoticeEvent).message)
  events.notice.subscribe(onNotice)
  return { messages, stop: () => events.notice.unsubscribe(onNotice) }
}

describe('keys when the JWKS URL fails', () => {
  test('a 200 whose body is not JSON is a failed fetch: 503, and not fetched again on every request', async () => {
    const jwks = await startJwks()
    await jwks.setMode('bad-json')
    const gateway = await startGateway(jwks.jwksUri)
    await waitFor(() => jwks.requestCount() >= 1, 'the warm-up fetch')
    const bearer = `Bearer ${await token()}`
    const before = jwks.requestCount()
    // Ten requests one after another (concurrent ones were merged into one fetch even before): at
    // most one attempt among them, since retries wait half a second at the soonest.
    for (let i = 0; i < 10; i++) assertUnavailable(await postMcp(gateway, bearer))
    assert.ok(jwks.requestCount() - before <= 1, `${jwks.requestCount() - before} fetches`)
    assert.equal((await send(`${gateway.url}/readyz`)).status, 503)
  })

  test('started while the AS is down, /readyz turns 200 by itself once it is back (no token traffic)', async () => {
    const jwks = await startJwks()
    await jwks.setMode('down')
    const gateway = await startGateway(jwks.jwksUri)
    assert.equal((await send(`${gateway.url}/readyz`)).status, 503)
    await jwks.setMode('pass')
    // Backoff 1 s doubling, jittered: the AS is back after at most two attempts at 0.5-1 s and 1-2 s.
    await waitFor(async () => (await send(`${gateway.url}/readyz`)).status === 200, '/readyz 200', 8000, 100)
    assert.ok(jwks.requestCount() >= 1)
  })

  test('an unknown kid while the AS is unreachable: 503 with Retry-After, not 401; known keys still pass', async () => {
    const jwks = await startJwks()
    const gateway = await startGateway(jwks.jwksUri)
    await waitFor(() => gateway.running.verifier.ready?.() === true, 'keys loaded')
    const known = await token()
    assert.equal((await postMcp(gateway, `Bearer ${known}`)).status, 200)

    await jwks.setMode('down')
    const unknown = await unknownKeyToken()
    assertUnavailable(await postMcp(gateway, `Bearer ${unknown}`))
    assertUnavailable(await postMcp(gateway, `Bearer ${unknown}`))
    assert.equal((await postMcp(gateway, `Bearer ${await token()}`)).status, 200, 'a known key verifies from the keys in hand')
  })
})

describe('keys removed and rotated at the AS', () => {
  test('a key removed from the JWKS: the tokens it signed are no longer served from the verified-token cache', async () => {
    const gateway = await startGateway(as.jwksUri, { MCP_JWKS_COOLDOWN: '100ms' })
    await waitFor(() => gateway.running.verifier.ready?.() === true, 'keys loaded')
    const old = await token()
    assert.equal((await postMcp(gateway, `Bearer ${old}`)).status, 200)
    assert.notEqual(gateway.running.verifier.verifyCached?.(old), undefined, 'cached after its first use')

    await as.rotateSigningKey()
    // The new kid makes the gateway refetch; the refetched set lacks the old keys.
    assert.equal((await postMcp(gateway, `Bearer ${await token()}`)).status, 200)
    assert.equal(gateway.running.verifier.verifyCached?.(old), undefined)
    assertUnknownKey(await postMcp(gateway, `Bearer ${old}`))
  })
})

describe('reload (SIGHUP) while the AS is down', () => {
  let jwks: FailingAuthorizationServer
  let gateway: TestGateway
  let accepted: string

  before(async () => {
    jwks = await startJwks()
    gateway = await startGateway(jwks.jwksUri)
    await waitFor(() => gateway.running.verifier.ready?.() === true, 'keys loaded')
    accepted = await token()
    assert.equal((await postMcp(gateway, `Bearer ${accepted}`)).status, 200)
    await jwks.setMode('down')
  })

  test('unchanged issuer settings: its keys and verified tokens carry over', async () => {
    const fetches = jwks.requestCount()
    await gateway.running.reload(gateway.config)
    assert.notEqual(gateway.running.verifier.verifyCached?.(accepted), undefined, 'the verified token was kept')
    assert.equal((await postMcp(gateway, `Bearer ${accepted}`)).status, 200)
    assert.equal((await postMcp(gateway, `Bearer ${await token()}`)).status, 200, 'a new token of a known key')
    assert.equal(jwks.requestCount(), fetches, 'nothing was fetched for an unchanged issuer')
    assert.equal((await send(`${gateway.url}/readyz`)).status, 200)
  })

  test('changed issuer settings whose keys cannot load: the running keys stay, and a warning says why', async () => {
    const changed: Config = {
      ...gateway.config,
      authorizationServers: gateway.config.authorizationServers.map((server) => ({ ...server, jwksCooldown: 45_000 })),
    }
    const notices = captureNotices()
    try {
      await gateway.running.reload(changed)
    } finally {
      notices.stop()
    }
    assert.ok(
      notices.messages.some((m) => m.includes(as.issuer) && m.includes('running settings stay')),
      notices.messages.join('\n'),
    )
    assert.equal((await postMcp(gateway, `Bearer ${accepted}`)).status, 200)
    assert.equal((await postMcp(gateway, `Bearer ${await token()}`)).status, 200)
    assert.equal((await send(`${gateway.url}/readyz`)).status, 200)
  })
})
