import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { stringify } from 'yaml'
import { loadConfig } from '../../src/config/load.js'
import { reservePort } from '../../src/demo/reserve-port.js'
import { startGateway, type RunningGateway } from '../../src/server/http.js'
import { startAuthorizationServer, type AuthorizationServer } from '../support/authorization-server.js'
import { startMcpBackend, type McpBackend } from '../support/mcp-backend.js'
import { HeadlessOAuthProvider, callToolWithStepUp, connectWithOAuth, withStepUp } from '../support/oauth-client.js'

/**
 * Issue 3 end to end: the MCP SDK v1 client does the whole OAuth flow through the gateway against
 * oidc-provider (401 -> metadata -> AS discovery -> dynamic registration -> authorization code with
 * PKCE and `resource` -> token), then lists tools (filtered by its scopes), calls an allowed tool,
 * meets a 403 on a tool needing more scope, steps up, and retries.
 */

const SCOPES = 'mcp:connect mcp:tools:read mcp:tools:call repo:admin repo:read'

interface Setup {
  as: AuthorizationServer
  backend: McpBackend
  gateway: RunningGateway
  resource: string
}

async function setUp(options: { compat: boolean; refreshTokens?: boolean }): Promise<Setup> {
  const port = await reservePort()
  const resource = `http://127.0.0.1:${port}/mcp`
  const as = await startAuthorizationServer({
    resources: { [resource]: { scope: SCOPES, format: 'jwt' } },
    refreshTokens: options.refreshTokens ?? false,
  })
  const backend = await startMcpBackend()
  const dir = mkdtempSync(join(tmpdir(), 'mcp-gw-authz-'))
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
        challengeIncludesTokenScopes: options.compat,
      },
    }),
  )
  const gateway = await startGateway(await loadConfig({ env: {}, argv: ['--config', file] }))
  return { as, backend, gateway, resource }
}

async function tearDown(s: Setup): Promise<void> {
  await s.gateway.close()
  await s.backend.close()
  await s.as.close()
}

const toolNames = (result: { tools: { name: string }[] }) => result.tools.map((t) => t.name).sort()

describe('SDK v1 client, full OAuth flow with step-up, compat switch on', () => {
  let s: Setup
  before(async () => {
    s = await setUp({ compat: true })
  })
  after(() => tearDown(s))

  test('401 -> discovery -> registration -> PKCE code with resource -> token -> connect', async () => {
    const provider = new HeadlessOAuthProvider()
    const session = await connectWithOAuth(s.resource, provider)
    try {
      const first = provider.authorizationUrls[0]
      assert.ok(first, 'the client was sent to the authorization endpoint')
      assert.equal(first.searchParams.get('resource'), s.resource, 'RFC 8707 resource is the metadata resource')
      assert.equal(first.searchParams.get('code_challenge_method'), 'S256')
      assert.equal(first.searchParams.get('scope'), 'mcp:connect', 'the 401 challenge scope is what it asked for')
      assert.deepEqual(provider.scopes, ['mcp:connect'])

      // tools/call needs mcp:tools:call: a 403 step-up.
      const echoed = await callToolWithStepUp(session, provider, { name: 'echo', arguments: { text: 'hi' } })
      assert.deepEqual(echoed.content, [{ type: 'text', text: 'hi' }])
      assert.deepEqual(provider.scopes.sort(), ['mcp:connect', 'mcp:tools:call'])

      // tools/list needs mcp:tools:read; with the compat switch the new token keeps mcp:tools:call.
      const listed = await withStepUp(session, provider, () => session.client.listTools())
      assert.deepEqual(toolNames(listed), ['add', 'echo', 'slow_count'], 'delete_repo hidden without repo:admin')
      assert.deepEqual(provider.scopes.sort(), ['mcp:connect', 'mcp:tools:call', 'mcp:tools:read'])

      const authorizationsBefore = provider.authorizationUrls.length
      const deleted = await callToolWithStepUp(session, provider, { name: 'delete_repo', arguments: { name: 'x' } })
      assert.deepEqual(deleted.content, [{ type: 'text', text: 'deleted x' }])
      assert.equal(provider.authorizationUrls.length, authorizationsBefore + 1, 'exactly one step-up')
      const stepUp = provider.authorizationUrls.at(-1) as URL
      assert.deepEqual(
        (stepUp.searchParams.get('scope') ?? '').split(' ').sort(),
        ['mcp:connect', 'mcp:tools:call', 'mcp:tools:read', 'repo:admin'],
        'with the compat switch the challenge keeps the scopes the token already had',
      )

      // The wider token lists delete_repo, without another authorization.
      const again = await session.client.listTools()
      assert.deepEqual(toolNames(again), ['add', 'delete_repo', 'echo', 'slow_count'])
      assert.equal(provider.authorizationUrls.length, authorizationsBefore + 1)
    } finally {
      await session.client.close()
    }
    for (const request of s.backend.requests) {
      assert.equal(request.headers.authorization, undefined, 'no token ever reaches the backend')
    }
  })
})

describe('SDK v1 client with the compat switch off', () => {
  let s: Setup
  before(async () => {
    s = await setUp({ compat: false })
  })
  after(() => tearDown(s))

  test('the challenge names only what the operation needs; v1 then replaces its scopes', async () => {
    const provider = new HeadlessOAuthProvider()
    const session = await connectWithOAuth(s.resource, provider)
    try {
      await callToolWithStepUp(session, provider, { name: 'echo', arguments: { text: 'x' } })
      await withStepUp(session, provider, () => session.client.listTools())
      await callToolWithStepUp(session, provider, { name: 'echo', arguments: { text: 'x' } })
      const stepUp = provider.authorizationUrls.at(-1) as URL
      assert.deepEqual((stepUp.searchParams.get('scope') ?? '').split(' ').sort(), ['mcp:connect', 'mcp:tools:call'])
      // v1 asked for exactly the challenged scopes, so it lost mcp:tools:read (typescript-sdk #2255's sibling):
      assert.deepEqual(provider.scopes.sort(), ['mcp:connect', 'mcp:tools:call'])
      const before = provider.authorizationUrls.length
      await withStepUp(session, provider, () => session.client.listTools())
      assert.equal(provider.authorizationUrls.length, before + 1, 'listing again needs another authorization')
    } finally {
      await session.client.close()
    }
  })
})

describe('SDK v1 client holding a refresh token (typescript-sdk#2255)', () => {
  let s: Setup
  before(async () => {
    s = await setUp({ compat: true, refreshTokens: true })
  })
  after(() => tearDown(s))

  test('step-up dead-ends in the client even with the compat switch: refresh cannot widen scope', async () => {
    const provider = new HeadlessOAuthProvider()
    const session = await connectWithOAuth(s.resource, provider)
    try {
      await assert.rejects(
        withStepUp(session, provider, () => session.client.listTools()),
        /403 after trying upscoping/,
      )
    } finally {
      await session.client.close()
    }
  })
})
