import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { createRemoteJWKSet, createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose'
import { startAuthorizationServer } from '../support/authorization-server.js'
import type { AuthorizationServer } from '../support/authorization-server.js'
import { startMcpBackend, startRawBackend } from '../support/mcp-backend.js'
import type { McpBackend } from '../support/mcp-backend.js'
import { HeadlessOAuthProvider, callToolWithStepUp, connectWithOAuth } from '../support/oauth-client.js'
import type { OAuthSession } from '../support/oauth-client.js'
import { accessTokenClaims, algNoneToken, createTestKeys, hs256WithPublicKey, mintJwt } from '../support/tokens.js'

const JWT_RESOURCE = 'https://mcp.example.com/mcp'
const ES_RESOURCE = 'https://es.example.com/mcp'
const OPAQUE_RESOURCE = 'https://opaque.example.com/mcp'

function firstText(result: CallToolResult): string {
  const item = result.content[0]
  assert.ok(item !== undefined && item.type === 'text', 'expected a text result')
  return item.text
}

async function connectPlain(url: string, headers: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: 'peers-test', version: '1.0.0' })
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }))
  return client
}

describe('authorization server peer', () => {
  let as: AuthorizationServer

  before(async () => {
    as = await startAuthorizationServer({
      resources: {
        [JWT_RESOURCE]: { scope: 'mcp:read mcp:write', format: 'jwt' },
        [ES_RESOURCE]: { scope: 'mcp:read', format: 'jwt', alg: 'ES256', ttlSeconds: 120 },
        [OPAQUE_RESOURCE]: { scope: 'mcp:read mcp:write', format: 'opaque' },
      },
    })
  })
  after(async () => {
    await as.close()
  })

  test('publishes discovery with the exact issuer and loopback endpoints', async () => {
    const response = await fetch(`${as.url}/.well-known/openid-configuration`)
    assert.equal(response.status, 200)
    const doc = (await response.json()) as Record<string, unknown>
    assert.equal(doc['issuer'], as.issuer)
    assert.equal(doc['jwks_uri'], as.jwksUri)
    assert.equal(doc['introspection_endpoint'], as.introspectionEndpoint)
    assert.deepEqual(doc['code_challenge_methods_supported'], ['S256'])
    assert.ok(as.issuer.startsWith('http://127.0.0.1:'))
    const rfc8414 = await fetch(`${as.url}/.well-known/oauth-authorization-server`)
    assert.equal(rfc8414.status, 200)
    assert.equal(((await rfc8414.json()) as Record<string, unknown>)['issuer'], as.issuer)
  })

  test('client_credentials for a jwt resource yields an at+jwt for that audience', async () => {
    const token = await as.clientCredentialsToken({ resource: JWT_RESOURCE, scope: 'mcp:read' })
    const header = decodeProtectedHeader(token)
    assert.equal(header.typ, 'at+jwt')
    assert.equal(header.alg, 'RS256')
    assert.equal(header.kid, as.kids[0])
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(as.jwksUri)), {
      issuer: as.issuer,
      audience: JWT_RESOURCE,
      typ: 'at+jwt',
    })
    assert.equal(payload.aud, JWT_RESOURCE)
    assert.equal(payload['scope'], 'mcp:read')
    assert.equal(payload['client_id'], 'm2m')
  })

  test('honours per-resource alg and ttl, and refuses unknown resources and scopes', async () => {
    const token = await as.clientCredentialsToken({ resource: ES_RESOURCE, scope: 'mcp:read' })
    assert.equal(decodeProtectedHeader(token).alg, 'ES256')
    const { exp, iat } = decodeJwt(token)
    assert.equal((exp ?? 0) - (iat ?? 0), 120)
    await assert.rejects(as.clientCredentialsToken({ resource: 'https://unknown.example.com/mcp', scope: 'mcp:read' }), /invalid_target/)
    // A scope the resource does not offer is dropped, never granted.
    const narrowed = await as.clientCredentialsToken({ resource: ES_RESOURCE, scope: 'mcp:read mcp:write' })
    assert.equal(decodeJwt(narrowed)['scope'], 'mcp:read')
    await assert.rejects(
      as.clientCredentialsToken({ resource: JWT_RESOURCE, scope: 'mcp:read', clientSecret: 'wrong' }),
      /invalid_client/,
    )
  })

  test('opaque tokens introspect active for the gateway client, inactive after revoke', async () => {
    const token = await as.clientCredentialsToken({ resource: OPAQUE_RESOURCE, scope: 'mcp:read mcp:write' })
    assert.equal(token.split('.').length, 1, 'opaque, not a JWT')
    const before = as.requestCount('/token/introspection')
    const response = await fetch(as.introspectionEndpoint, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from('gateway:gateway-secret').toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token }).toString(),
    })
    const active = (await response.json()) as Record<string, unknown>
    assert.equal(active['active'], true)
    assert.equal(active['aud'], OPAQUE_RESOURCE)
    assert.equal(active['scope'], 'mcp:read mcp:write')
    assert.equal(active['iss'], as.issuer)
    assert.equal(as.requestCount('/token/introspection'), before + 1)
    await as.revoke(token)
    assert.deepEqual(await as.introspect(token), { active: false })
  })

  test('rotateSigningKey signs with a new kid only, keeping old keys published only when asked', async () => {
    const oldKids = [...as.kids]
    const oldToken = await as.clientCredentialsToken({ resource: JWT_RESOURCE, scope: 'mcp:read' })
    const jwksFetches = as.requestCount('/jwks')

    await as.rotateSigningKey({ keepOldKeys: true })
    const graceful = await as.clientCredentialsToken({ resource: JWT_RESOURCE, scope: 'mcp:read' })
    assert.equal(decodeProtectedHeader(graceful).kid, as.kids[0])
    assert.notEqual(as.kids[0], oldKids[0])
    const published = ((await (await fetch(as.jwksUri)).json()) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid)
    assert.deepEqual(published.sort(), [...as.kids, ...oldKids].sort())
    assert.equal(as.requestCount('/jwks'), jwksFetches + 1)

    await as.rotateSigningKey()
    const fresh = await as.clientCredentialsToken({ resource: JWT_RESOURCE, scope: 'mcp:read' })
    const jwks = createRemoteJWKSet(new URL(as.jwksUri))
    await jwtVerify(fresh, jwks, { issuer: as.issuer, audience: JWT_RESOURCE })
    await assert.rejects(jwtVerify(oldToken, createRemoteJWKSet(new URL(as.jwksUri))), { code: 'ERR_JWKS_NO_MATCHING_KEY' })
  })
})

describe('MCP backend peer', () => {
  let backend: McpBackend

  before(async () => {
    backend = await startMcpBackend()
  })
  after(async () => {
    await backend.close()
  })

  test('the SDK client connects without auth and calls tools, prompts and resources', async () => {
    const client = await connectPlain(backend.url)
    try {
      const tools = (await client.listTools()).tools.map((tool) => tool.name).sort()
      assert.deepEqual(tools, ['add', 'delete_repo', 'echo', 'slow_count'])
      assert.equal(firstText((await client.callTool({ name: 'echo', arguments: { text: 'hi' } })) as CallToolResult), 'hi')
      assert.equal(firstText((await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } })) as CallToolResult), '5')
      const deleted = (await client.callTool({ name: 'delete_repo', arguments: { name: 'x' } })) as CallToolResult
      assert.equal(firstText(deleted), 'deleted x')
      const prompt = await client.getPrompt({ name: 'greeting', arguments: { name: 'Bob' } })
      assert.deepEqual(prompt.messages[0]?.content, { type: 'text', text: 'Hello, Bob!' })
      assert.deepEqual((await client.listPrompts()).prompts.map((p) => p.name).sort(), ['greeting', 'secret_prompt'])
      const resources = (await client.listResources()).resources.map((r) => r.uri).sort()
      assert.deepEqual(resources, ['file:///private/keys.txt', 'file:///public/readme.txt'])
      const read = await client.readResource({ uri: 'file:///public/readme.txt' })
      assert.deepEqual(read.contents[0], { uri: 'file:///public/readme.txt', mimeType: 'text/plain', text: 'public readme' })
      assert.equal(backend.sessionIds().length, 1)
    } finally {
      await client.close()
    }
  })

  test('slow_count streams each notification before the result', async () => {
    const client = await connectPlain(backend.url)
    try {
      const events: Array<{ kind: string; at: number }> = []
      client.setNotificationHandler(LoggingMessageNotificationSchema, () => {
        events.push({ kind: 'log', at: Date.now() })
      })
      const result = (await client.callTool({ name: 'slow_count', arguments: { count: 3, delayMs: 150 } }, undefined, {
        onprogress: () => events.push({ kind: 'progress', at: Date.now() }),
      })) as CallToolResult
      const resultAt = Date.now()
      assert.equal(firstText(result), 'counted 3')
      assert.equal(events.filter((e) => e.kind === 'progress').length, 3)
      assert.equal(events.filter((e) => e.kind === 'log').length, 3)
      // Arrival 300 ms before the result is only possible if the SSE events were not buffered.
      const first = events[0]
      assert.ok(first !== undefined && resultAt - first.at >= 250, `first notification only ${resultAt - (first?.at ?? 0)} ms early`)
    } finally {
      await client.close()
    }
  })

  test('records every request with its headers, and the stateful session uses GET and DELETE', async () => {
    const start = backend.requests.length
    const client = await connectPlain(backend.url, { 'x-test-marker': 'peers' })
    const transport = client.transport as StreamableHTTPClientTransport
    await client.callTool({ name: 'echo', arguments: { text: 'x' } })
    await transport.terminateSession()
    await client.close()
    const seen = backend.requests.slice(start)
    const posts = seen.filter((r) => r.method === 'POST')
    assert.ok(posts.length >= 3, 'initialize, initialized, tools/call')
    for (const request of posts) {
      assert.equal(request.url, '/mcp')
      assert.equal(request.headers['x-test-marker'], 'peers')
      assert.equal(request.headers.authorization, undefined)
      assert.ok(request.rawHeaders.some((name) => name.toLowerCase() === 'x-test-marker'))
    }
    assert.match(posts[0]?.body ?? '', /"method":"initialize"/)
    assert.ok(seen.some((r) => r.method === 'GET' && r.headers.accept === 'text/event-stream'), 'standalone SSE stream')
    assert.ok(seen.some((r) => r.method === 'DELETE' && typeof r.headers['mcp-session-id'] === 'string'))
  })

  test('stateless mode with JSON responses serves a fresh server per request', async () => {
    const stateless = await startMcpBackend({ mode: 'stateless', enableJsonResponse: true })
    try {
      const client = await connectPlain(stateless.url)
      const result = (await client.callTool({ name: 'echo', arguments: { text: 'plain' } })) as CallToolResult
      assert.equal(firstText(result), 'plain')
      await client.close()
      assert.equal(stateless.sessionIds().length, 0)
      const response = await fetch(stateless.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
        }),
      })
      assert.equal(response.status, 200)
      assert.match(response.headers.get('content-type') ?? '', /application\/json/)
      assert.equal(response.headers.get('mcp-session-id'), null)
    } finally {
      await stateless.close()
    }
  })

  test('the raw backend hands over exact control and records requests', async () => {
    const raw = await startRawBackend(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write('data: one\n\n')
      await new Promise((resolve) => setTimeout(resolve, 50))
      res.end('data: two\n\n')
    })
    try {
      const response = await fetch(raw.url, { headers: { authorization: 'Bearer should-be-recorded' } })
      assert.equal(await response.text(), 'data: one\n\ndata: two\n\n')
      assert.equal(raw.requests.length, 1)
      assert.equal(raw.requests[0]?.headers.authorization, 'Bearer should-be-recorded')
    } finally {
      await raw.close()
    }
  })
})

describe('token minting helpers', () => {
  test('mint expired, foreign and forged tokens that the matching checks reject', async () => {
    const keys = await createTestKeys()
    const jwks = createLocalJWKSet(keys.jwks)
    const good = await mintJwt({ key: keys.rsa, claims: accessTokenClaims({ issuer: 'https://as.test', audience: 'https://rs.test/mcp', scope: 'a' }) })
    const { payload, protectedHeader } = await jwtVerify(good, jwks, { issuer: 'https://as.test', audience: 'https://rs.test/mcp', typ: 'at+jwt' })
    assert.equal(payload['scope'], 'a')
    assert.equal(protectedHeader.kid, keys.rsa.kid)

    const ecToken = await mintJwt({ key: keys.ec, claims: accessTokenClaims({ issuer: 'https://as.test', audience: ['x', 'https://rs.test/mcp'] }) })
    assert.equal((await jwtVerify(ecToken, jwks, { audience: 'https://rs.test/mcp' })).protectedHeader.alg, 'ES256')

    const expired = await mintJwt({ key: keys.rsa, claims: accessTokenClaims({ issuer: 'i', audience: 'a', expiresInSeconds: -60 }) })
    await assert.rejects(jwtVerify(expired, jwks), { code: 'ERR_JWT_EXPIRED' })

    const noExp = await mintJwt({ key: keys.rsa, claims: { iss: 'i', aud: 'a' } })
    assert.equal(decodeJwt(noExp).exp, undefined)

    const unknownKid = await mintJwt({ key: keys.rsa, header: { kid: 'nobody' }, claims: { iss: 'i' } })
    await assert.rejects(jwtVerify(unknownKid, jwks), { code: 'ERR_JWKS_NO_MATCHING_KEY' })

    const noTyp = await mintJwt({ key: keys.rsa, header: { typ: undefined }, claims: { iss: 'i' } })
    assert.equal(decodeProtectedHeader(noTyp).typ, undefined)

    const none = algNoneToken({ iss: 'i', aud: 'a' })
    assert.equal(decodeProtectedHeader(none).alg, 'none')
    assert.ok(none.endsWith('.'))
    await assert.rejects(jwtVerify(none, jwks))

    const confused = await hs256WithPublicKey(keys.rsa.publicJwk, { iss: 'i', aud: 'a' })
    assert.equal(decodeProtectedHeader(confused).alg, 'HS256')
    assert.equal(decodeProtectedHeader(confused).kid, keys.rsa.kid)
    await jwtVerify(confused, new TextEncoder().encode(keys.rsa.publicPem))
    await assert.rejects(jwtVerify(confused, jwks))
    const confusedJson = await hs256WithPublicKey(keys.rsa.publicJwk, { iss: 'i' }, { secretFormat: 'jwk-json' })
    await jwtVerify(confusedJson, new TextEncoder().encode(JSON.stringify(keys.rsa.publicJwk)))

    const dir = await mkdtemp(join(tmpdir(), 'peers-jwks-'))
    try {
      const path = await keys.writeJwksFile(dir)
      const written = JSON.parse(await readFile(path, 'utf8')) as { keys: Array<Record<string, unknown>> }
      assert.deepEqual(written.keys.map((k) => k['kid']), [keys.rsa.kid, keys.ec.kid])
      assert.ok(written.keys.every((k) => !('d' in k)), 'public keys only')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

/**
 * A stand-in resource server in front of the MCP backend, just enough to drive the SDK's whole
 * OAuth flow through the harness's OAuth client. It is not the gateway and checks only what the
 * flow needs: PRM, a JWT for this audience, and one step-up rule (delete_repo needs mcp:write).
 */
function standInResourceServer(getAs: () => AuthorizationServer, getBackend: () => McpBackend) {
  let jwks: ReturnType<typeof createRemoteJWKSet> | undefined
  const deny = (res: ServerResponse, status: number, challenge: string) => {
    res.writeHead(status, { 'www-authenticate': challenge, 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: status === 401 ? 'invalid_token' : 'insufficient_scope' }))
  }
  return async (req: IncomingMessage, res: ServerResponse, body: unknown): Promise<boolean> => {
    const as = getAs()
    const backend = getBackend()
    const prm = `${backend.origin}/.well-known/oauth-protected-resource/mcp`
    const path = new URL(req.url ?? '/', backend.origin).pathname
    if (path === '/.well-known/oauth-protected-resource/mcp') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ resource: backend.url, authorization_servers: [as.issuer], scopes_supported: ['mcp:read'] }))
      return true
    }
    if (path !== '/mcp') return false
    const authorization = req.headers.authorization ?? ''
    if (!authorization.startsWith('Bearer ')) {
      deny(res, 401, `Bearer resource_metadata="${prm}", scope="mcp:read"`)
      return true
    }
    jwks ??= createRemoteJWKSet(new URL(as.jwksUri))
    let scopes: string[]
    try {
      const { payload } = await jwtVerify(authorization.slice('Bearer '.length), jwks, { issuer: as.issuer, audience: backend.url })
      scopes = typeof payload['scope'] === 'string' ? payload['scope'].split(' ') : []
    } catch {
      deny(res, 401, `Bearer error="invalid_token", scope="mcp:read", resource_metadata="${prm}"`)
      return true
    }
    const message = body as { method?: unknown; params?: { name?: unknown } } | undefined
    const needsWrite = message?.method === 'tools/call' && message.params?.name === 'delete_repo'
    if (!scopes.includes('mcp:read') || (needsWrite && !scopes.includes('mcp:write'))) {
      deny(res, 403, `Bearer error="insufficient_scope", scope="mcp:read${needsWrite ? ' mcp:write' : ''}", resource_metadata="${prm}"`)
      return true
    }
    return false
  }
}

describe('headless SDK OAuth client against the AS (stand-in resource server)', () => {
  let as: AuthorizationServer
  let backend: McpBackend
  let session: OAuthSession | undefined

  before(async () => {
    backend = await startMcpBackend({ intercept: standInResourceServer(() => as, () => backend) })
    as = await startAuthorizationServer({ resources: { [backend.url]: { scope: 'mcp:read mcp:write', format: 'jwt' } } })
  })
  after(async () => {
    await session?.client.close()
    await backend.close()
    await as.close()
  })

  test('connectWithOAuth runs DCR, PKCE and headless consent, then step-up widens the scope', async () => {
    const provider = new HeadlessOAuthProvider()
    session = await connectWithOAuth(backend.url, provider)
    assert.deepEqual(provider.scopes, ['mcp:read'])
    assert.equal(provider.tokensSaved, 1)
    const authorizationUrl = provider.authorizationUrls[0]
    assert.equal(authorizationUrl?.searchParams.get('resource'), backend.url)
    assert.equal(authorizationUrl?.searchParams.get('code_challenge_method'), 'S256')
    assert.equal(as.requestCount('/reg'), 1)
    const token = provider.accessToken ?? ''
    assert.equal(decodeJwt(token).aud, backend.url)
    assert.equal(decodeJwt(token).sub, as.accountId)

    const echoed = (await session.client.callTool({ name: 'echo', arguments: { text: 'authorized' } })) as CallToolResult
    assert.equal(firstText(echoed), 'authorized')

    const deleted = await callToolWithStepUp(session, provider, { name: 'delete_repo', arguments: { name: 'r' } })
    assert.equal(firstText(deleted), 'deleted r')
    assert.deepEqual(provider.scopes.sort(), ['mcp:read', 'mcp:write'])
    assert.equal(provider.tokensSaved, 2)
    assert.equal(provider.authorizationUrls[1]?.searchParams.get('scope'), 'mcp:read mcp:write')
    assert.equal(as.requestCount('/reg'), 1, 'step-up reuses the registration')
  })
})

describe('refreshTokens option reproduces the SDK v1 step-up dead end', () => {
  let as: AuthorizationServer
  let backend: McpBackend
  let session: OAuthSession | undefined

  before(async () => {
    backend = await startMcpBackend({ intercept: standInResourceServer(() => as, () => backend) })
    as = await startAuthorizationServer({
      resources: { [backend.url]: { scope: 'mcp:read mcp:write', format: 'jwt' } },
      refreshTokens: true,
    })
  })
  after(async () => {
    await session?.client.close()
    await backend.close()
    await as.close()
  })

  test('with a refresh token held, v1 refreshes instead of re-authorizing and gives up on the 403', async () => {
    const provider = new HeadlessOAuthProvider()
    session = await connectWithOAuth(backend.url, provider)
    assert.equal(typeof provider.tokens()?.refresh_token, 'string')
    // typescript-sdk#2255: a refresh cannot widen scope, so the same challenge comes back.
    await assert.rejects(
      callToolWithStepUp(session, provider, { name: 'delete_repo', arguments: { name: 'r' } }),
      /403 after trying upscoping/,
    )
    assert.deepEqual(provider.scopes, ['mcp:read'])
  })
})
