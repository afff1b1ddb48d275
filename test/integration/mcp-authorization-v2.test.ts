import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import {
  Client,
  IssuerMismatchError,
  StreamableHTTPClientTransport,
  UnauthorizedError,
} from '@modelcontextprotocol/client'
import { stringify } from 'yaml'
import { loadConfig } from '../../src/config/load.js'
import { reservePort } from '../../src/demo/reserve-port.js'
import { startGateway, type RunningGateway } from '../../src/server/http.js'
import { startAuthorizationServer, type AuthorizationServer } from '../support/authorization-server.js'
import { startMcpBackend, type McpBackend } from '../support/mcp-backend.js'
import {
  HeadlessOAuthProviderV2,
  callToolWithStepUpV2,
  connectWithOAuthV2,
  recordingFetch,
  withStepUpV2,
  type WireExchange,
} from '../support/oauth-client-v2.js'

/**
 * Issue 3 with the MCP SDK v2 client (`@modelcontextprotocol/client` 2.4): the same OAuth flow as
 * mcp-authorization.test.ts does with v1, through the gateway against oidc-provider, with the
 * gateway's compat switch OFF. v2 asks for the union of what it held and what the 403 challenge
 * names (SEP-2350), and skips the refresh grant when that union exceeds the token (refresh cannot
 * widen scope, RFC 6749 §6), so step-up works with refresh tokens too (v1: typescript-sdk#2255).
 */

const SCOPES = 'mcp:connect mcp:tools:read mcp:tools:call repo:admin repo:read'

interface Setup {
  as: AuthorizationServer
  backend: McpBackend
  gateway: RunningGateway
  resource: string
}

async function setUp(options: { refreshTokens: boolean }): Promise<Setup> {
  const port = await reservePort()
  const resource = `http://127.0.0.1:${port}/mcp`
  const as = await startAuthorizationServer({
    resources: { [resource]: { scope: SCOPES, format: 'jwt' } },
    refreshTokens: options.refreshTokens,
  })
  const backend = await startMcpBackend()
  const dir = mkdtempSync(join(tmpdir(), 'mcp-gw-authz-v2-'))
  const file = join(dir, 'gateway.yaml')
  writeFileSync(
    file,
    stringify({
      listen: { host: '127.0.0.1', port },
      resource: { canonicalUri: resource },
      authorizationServers: [{ issuer: as.issuer, discovery: true }],
      backend: { url: backend.origin },
      scopes: {
        required: ['mcp:connect'],
        methods: { 'tools/list': ['mcp:tools:read'], 'tools/call': ['mcp:tools:call'] },
        tools: { delete_repo: ['repo:admin'] },
        implies: { 'repo:admin': ['repo:read'] },
        filterLists: true,
        // v2 needs no help: the challenge names only what each operation needs.
        challengeIncludesTokenScopes: false,
      },
    }),
  )
  try {
    const gateway = await startGateway(await loadConfig({ env: {}, argv: ['--config', file] }))
    return { as, backend, gateway, resource }
  } catch (error) {
    await Promise.allSettled([backend.close(), as.close()])
    throw error
  }
}

async function tearDown(s: Setup): Promise<void> {
  await s.gateway.close()
  await s.backend.close()
  await s.as.close()
}

const toolNames = (result: { tools: { name: string }[] }) => result.tools.map((t) => t.name).sort()
const scopeList = (value: string | null | undefined) => (value ?? '').split(' ').filter((s) => s !== '').sort()
/** Scopes the client asked the authorization server for, `offline_access` aside (v2 adds it for refresh). */
const requested = (url: URL | undefined) =>
  scopeList(url?.searchParams.get('scope')).filter((s) => s !== 'offline_access')
const held = (provider: HeadlessOAuthProviderV2) => provider.scopes.filter((s) => s !== 'offline_access').sort()

/** `scope="..."` of a challenge, as a sorted list. */
function challengedScopes(challenge: string | null): string[] {
  const match = /(?:^|[ ,])scope="([^"]*)"/.exec(challenge ?? '')
  return scopeList(match?.[1])
}

/**
 * The whole story, run once per authorization-server setup: discovery and registration, then
 * step-ups that each keep the scopes already held, then a call needing `repo:admin`.
 */
async function fullFlow(s: Setup): Promise<void> {
  const wire: WireExchange[] = []
  const provider = new HeadlessOAuthProviderV2()
  const tokenRequestsBefore = s.as.requestCount('/token')
  const session = await connectWithOAuthV2(s.resource, provider, {
    transportOptions: { fetch: recordingFetch(wire) },
  })
  try {
    // 401 -> protected resource metadata -> AS metadata -> registration -> (browser) -> token -> connect.
    const steps = wire.map((w) => `${w.method} ${w.url.pathname} ${w.status}`)
    const mcpPath = new URL(s.resource).pathname
    assert.equal(steps[0], `POST ${mcpPath} 401`, 'the first request meets a 401')
    // DPoP is on by default: the SDK client reads the fields joined, Bearer first, and follows it.
    assert.match(wire[0]?.wwwAuthenticate ?? '', /^Bearer resource_metadata="[^"]+", scope="mcp:connect", DPoP resource_metadata="[^"]+", scope="mcp:connect", algs="[^"]+"$/)
    const index = (pattern: RegExp) => steps.findIndex((step) => pattern.test(step))
    const prm = index(/^GET \/\.well-known\/oauth-protected-resource\/mcp 200$/)
    const asMetadata = index(/^GET \/\.well-known\/(oauth-authorization-server|openid-configuration)\S* 200$/)
    const registration = index(/^POST \/reg 201$/)
    const token = index(/^POST \/token 200$/)
    const initialized = index(new RegExp(`^POST ${mcpPath} 200$`))
    assert.ok(
      prm > 0 && asMetadata > prm && registration > asMetadata && token > registration && initialized > token,
      `discovery order: ${steps.join(' | ')}`,
    )
    assert.equal(s.as.requestCount('/token') - tokenRequestsBefore, 1, 'one code redeemed')

    const first = provider.authorizationUrls[0]
    assert.ok(first, 'the client was sent to the authorization endpoint')
    assert.equal(first.searchParams.get('resource'), s.resource, 'RFC 8707 resource is the metadata resource')
    assert.equal(first.searchParams.get('code_challenge_method'), 'S256')
    assert.ok((first.searchParams.get('code_challenge') ?? '').length >= 43, 'PKCE challenge sent')
    assert.deepEqual(requested(first), ['mcp:connect'], 'it asked for what the 401 challenge named')
    // v2 adds offline_access (with prompt=consent) because the AS lists it and the client may refresh.
    assert.ok(scopeList(first.searchParams.get('scope')).includes('offline_access'))
    assert.equal(first.searchParams.get('prompt'), 'consent')
    assert.ok(provider.lastCallbackUrl?.searchParams.get('iss'), 'oidc-provider sends RFC 9207 iss; v2 checked it')
    assert.deepEqual(held(provider), ['mcp:connect'])
    assert.equal(typeof provider.tokens()?.refresh_token, 'string', 'a refresh token is held from the start')

    // tools/call needs mcp:tools:call: 403, step-up, retry.
    const echoed = await callToolWithStepUpV2(session, provider, { name: 'echo', arguments: { text: 'hi' } })
    assert.deepEqual(echoed.content, [{ type: 'text', text: 'hi' }])
    assert.deepEqual(held(provider), ['mcp:connect', 'mcp:tools:call'])

    // tools/list needs mcp:tools:read. The gateway's challenge names only that (compat off) ...
    const listed = await withStepUpV2(session, provider, () => session.client.listTools())
    const listChallenge = wire.filter((w) => w.status === 403).at(-1)?.wwwAuthenticate ?? null
    assert.deepEqual(challengedScopes(listChallenge), ['mcp:connect', 'mcp:tools:read'])
    // ... and v2 asked for the union, so it still holds mcp:tools:call: the list shows the callable tools.
    const union = requested(provider.authorizationUrls.at(-1))
    assert.deepEqual(union, ['mcp:connect', 'mcp:tools:call', 'mcp:tools:read'])
    assert.deepEqual(toolNames(listed), ['add', 'echo', 'slow_count'], 'delete_repo hidden without repo:admin')

    // Calling an allowed tool again needs no authorization (v1 without the compat switch would).
    const authorizationsBefore = provider.authorizationUrls.length
    const again = await callToolWithStepUpV2(session, provider, { name: 'add', arguments: { a: 2, b: 3 } })
    assert.deepEqual(again.content, [{ type: 'text', text: '5' }])
    assert.equal(provider.authorizationUrls.length, authorizationsBefore, 'no step-up for a scope already held')

    // delete_repo needs repo:admin: 403 naming only what it needs, one step-up, the retry succeeds.
    const forbiddenBefore = wire.filter((w) => w.status === 403).length
    const deleted = await callToolWithStepUpV2(session, provider, {
      name: 'delete_repo',
      arguments: { name: 'x' },
    })
    assert.deepEqual(deleted.content, [{ type: 'text', text: 'deleted x' }])
    const forbidden = wire.filter((w) => w.status === 403).slice(forbiddenBefore)
    assert.equal(forbidden.length, 1, 'one 403, then the retry passed')
    const challenge = forbidden[0]?.wwwAuthenticate ?? ''
    assert.match(challenge, /^Bearer error="insufficient_scope", scope="[^"]+", resource_metadata="/)
    assert.deepEqual(challengedScopes(challenge), ['mcp:connect', 'mcp:tools:call', 'repo:admin'])
    assert.doesNotMatch(challenge, /offline_access/)
    assert.equal(provider.authorizationUrls.length, authorizationsBefore + 1, 'exactly one step-up')
    assert.deepEqual(requested(provider.authorizationUrls.at(-1)), [
      'mcp:connect',
      'mcp:tools:call',
      'mcp:tools:read',
      'repo:admin',
    ])
    // Each union exceeded the token, so v2 went to the authorization endpoint instead of refreshing
    // (a refresh cannot widen scope; v1 refreshes and dead-ends, typescript-sdk#2255).
    const grants = wire
      .filter((w) => w.url.pathname === '/token')
      .map((w) => new URLSearchParams(w.body).get('grant_type'))
    assert.deepEqual(grants, Array(4).fill('authorization_code'), 'connect and three step-ups, never a refresh')
    assert.equal(typeof provider.tokens()?.refresh_token, 'string')

    // The wider token lists delete_repo, with no further authorization.
    const all = await session.client.listTools()
    assert.deepEqual(toolNames(all), ['add', 'delete_repo', 'echo', 'slow_count'])
    assert.equal(provider.authorizationUrls.length, authorizationsBefore + 1)
  } finally {
    await session.client.close()
  }
  for (const request of s.backend.requests) {
    assert.equal(request.headers.authorization, undefined, 'no token ever reaches the backend')
  }
}

// v2 asks for offline_access whenever the AS lists it, so with oidc-provider's default policy
// (a refresh token only with offline_access) it holds a refresh token in both setups.
describe('SDK v2 client, full OAuth flow with step-up, compat switch off (AS default refresh policy)', () => {
  let s: Setup
  before(async () => {
    s = await setUp({ refreshTokens: false })
  })
  after(() => tearDown(s))

  test('401, discovery, registration, PKCE code with resource, token, list, call, 403, step-up', async () => {
    await fullFlow(s)
  })

  test('finishAuth(callbackSearchParams) checks RFC 9207 iss before redeeming the code', async () => {
    const provider = new HeadlessOAuthProviderV2()
    const transport = new StreamableHTTPClientTransport(new URL(s.resource), { authProvider: provider })
    const client = new Client({ name: 'iss-check', version: '2.0.0' })
    await assert.rejects(client.connect(transport), UnauthorizedError)
    const genuine = provider.takeCallbackParams()
    const forged = new URLSearchParams(genuine)
    forged.set('iss', 'http://127.0.0.1:1/attacker')
    const tokenRequests = s.as.requestCount('/token')
    await assert.rejects(transport.finishAuth(forged), IssuerMismatchError)
    assert.equal(s.as.requestCount('/token'), tokenRequests, 'the code never went to the token endpoint')
    await transport.finishAuth(genuine)
    assert.deepEqual(held(provider), ['mcp:connect'])
    await client.close()
  })
})

describe('SDK v2 client, AS issuing refresh tokens to every client (typescript-sdk#2255 fixed in v2)', () => {
  let s: Setup
  before(async () => {
    s = await setUp({ refreshTokens: true })
  })
  after(() => tearDown(s))

  test('step-up still works: the union exceeds the token, so v2 re-authorizes instead of refreshing', async () => {
    await fullFlow(s)
  })
})
