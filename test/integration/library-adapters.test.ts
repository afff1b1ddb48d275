import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { reservePort } from '../../src/demo/reserve-port.js'
import { startAuthorizationServer, type AuthorizationServer } from '../support/authorization-server.js'
import { startExample, type ExampleProcess } from '../support/example-process.js'
import { HeadlessOAuthProvider, callToolWithStepUp, connectWithOAuth, withStepUp } from '../support/oauth-client.js'

/**
 * Issue 13: the library's contract, the same for every adapter. Each example server
 * (examples/<framework>.ts: SDK McpServer + adapter + per-tool scopes) runs as a user would start
 * it, configured only by OAUTH_ISSUER_URL and OAUTH_AUDIENCE, against oidc-provider; raw requests
 * check the wire answers, and the SDK client does the whole OAuth flow with a step-up.
 */

const FRAMEWORKS = ['node', 'express', 'fastify', 'hono'] as const
const SCOPES = 'mcp:tools repo:admin'

let as: AuthorizationServer
const resources = new Map<string, string>()

before(async () => {
  const ports = new Map<string, number>()
  for (const name of FRAMEWORKS) ports.set(name, await reservePort())
  for (const [name, port] of ports) resources.set(name, `http://127.0.0.1:${port}/mcp`)
  as = await startAuthorizationServer({
    resources: Object.fromEntries([...resources.values()].map((r) => [r, { scope: SCOPES, format: 'jwt' as const }])),
  })
})
after(() => as.close())

const toolNames = (result: { tools: { name: string }[] }) => result.tools.map((t) => t.name).sort()

function toolCall(name: string): RequestInit {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: { name: 'x' } } }),
  }
}

for (const framework of FRAMEWORKS) {
  describe(`library adapter: ${framework}`, () => {
    let example: ExampleProcess
    let resource: string
    let metadataUrl: string
    const tokens: string[] = []

    before(async () => {
      resource = resources.get(framework) as string
      metadataUrl = `${new URL(resource).origin}/.well-known/oauth-protected-resource/mcp`
      example = startExample(framework, {
        OAUTH_ISSUER_URL: as.issuer,
        OAUTH_AUDIENCE: resource,
        PORT: new URL(resource).port,
      })
      await example.listening
    })
    after(() => example.kill())

    test('401 without a token, with the exact challenge and no-store', async () => {
      const response = await fetch(resource, toolCall('echo'))
      assert.equal(response.status, 401)
      assert.equal(response.headers.get('www-authenticate'), `Bearer resource_metadata="${metadataUrl}", scope="mcp:tools"`)
      assert.equal(response.headers.get('cache-control'), 'no-store')
      assert.deepEqual(await response.json(), { error: 'no_credentials', error_description: 'Bearer access token required' })
    })

    test('401 invalid_token for a bad token', async () => {
      const init = toolCall('echo')
      const response = await fetch(resource, { ...init, headers: { ...(init.headers as object), authorization: 'Bearer not.a.jwt' } })
      assert.equal(response.status, 401)
      const challenge = response.headers.get('www-authenticate') ?? ''
      assert.match(challenge, /^Bearer error="invalid_token", scope="mcp:tools", resource_metadata="[^"]+", error_description="[^"=]+"$/)
      assert.ok(challenge.includes(`resource_metadata="${metadataUrl}"`))
    })

    test('403 insufficient_scope naming the step-up scope for a tool that needs more', async () => {
      const token = await as.clientCredentialsToken({ resource, scope: 'mcp:tools' })
      tokens.push(token)
      const init = toolCall('delete_repo')
      const response = await fetch(resource, { ...init, headers: { ...(init.headers as object), authorization: `Bearer ${token}` } })
      assert.equal(response.status, 403)
      const challenge = response.headers.get('www-authenticate') ?? ''
      assert.match(challenge, /^Bearer error="insufficient_scope", scope="[^"]*\brepo:admin\b[^"]*", resource_metadata="/)
      assert.equal(response.headers.get('cache-control'), 'no-store')
    })

    test('413 for a body past limits.maxBodySize sent chunked (no Content-Length to refuse it by)', async () => {
      const token = await as.clientCredentialsToken({ resource, scope: 'mcp:tools' })
      tokens.push(token)
      const piece = new Uint8Array(64 * 1024).fill(0x20)
      const send = () => {
        let sent = 0
        // 2 MiB of spaces, twice the default limit, in 64 KiB pieces.
        const body = new ReadableStream<Uint8Array>({
          pull(controller) {
            if (sent >= 2 * 1024 * 1024) return controller.close()
            sent += piece.length
            controller.enqueue(piece)
          },
        })
        const init = toolCall('echo')
        return fetch(resource, {
          ...init,
          headers: { ...(init.headers as object), authorization: `Bearer ${token}` },
          body,
          duplex: 'half',
        } as RequestInit)
      }
      // A server that closes with the rest of the body unread makes its kernel reset the
      // connection, and a reset can reach the client before it read the 413 (RFC 9112 §9.6): only
      // such a reset is tried again, a few times; any other answer or error fails at once.
      let response: Response | undefined
      for (let attempt = 1; response === undefined; attempt++) {
        try {
          response = await send()
        } catch (error) {
          const code = ((error as Error).cause as { code?: string } | undefined)?.code
          if (attempt === 3 || !['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET'].includes(code ?? '')) throw error
        }
      }
      assert.equal(response.status, 413)
      await response.body?.cancel()
    })

    test('RFC 9728 metadata at the root and the path-aware URL', async () => {
      for (const url of [`${new URL(resource).origin}/.well-known/oauth-protected-resource`, metadataUrl]) {
        const response = await fetch(url)
        assert.equal(response.status, 200, url)
        assert.match(response.headers.get('content-type') ?? '', /^application\/json/)
        assert.equal(response.headers.get('access-control-allow-origin'), '*')
        const document = (await response.json()) as Record<string, unknown>
        assert.equal(document.resource, resource)
        assert.deepEqual(document.authorization_servers, [as.issuer])
        assert.deepEqual(document.scopes_supported, ['mcp:tools', 'repo:admin'])
      }
    })

    test('SDK client OAuth flow: the call reaches the handler with req.auth; lists filtered; step-up', async () => {
      const provider = new HeadlessOAuthProvider()
      const session = await connectWithOAuth(resource, provider)
      try {
        assert.equal(provider.authorizationUrls[0]?.searchParams.get('resource'), resource)
        const who = await callToolWithStepUp(session, provider, { name: 'whoami', arguments: {} })
        const text = (who.content as { type: string; text: string }[])[0]?.text ?? ''
        const auth = JSON.parse(text) as { sub: string; clientId: string; scopes: string[] }
        assert.equal(auth.sub, as.accountId, 'extra.authInfo carries the verified subject')
        assert.ok(auth.clientId.length > 0)
        assert.deepEqual(auth.scopes, ['mcp:tools'])

        assert.deepEqual(toolNames(await session.client.listTools()), ['echo', 'whoami'], 'delete_repo hidden without repo:admin')
        const deleted = await callToolWithStepUp(session, provider, { name: 'delete_repo', arguments: { name: 'x' } })
        assert.deepEqual(deleted.content, [{ type: 'text', text: 'deleted x' }])
        assert.ok(provider.scopes.includes('repo:admin'))
        const listed = await withStepUp(session, provider, () => session.client.listTools())
        assert.deepEqual(toolNames(listed), ['delete_repo', 'echo', 'whoami'])
        if (provider.accessToken !== undefined) tokens.push(provider.accessToken)
      } finally {
        await session.client.close()
      }
    })

    test('no token in the server output', () => {
      assert.ok(tokens.length >= 2)
      const output = example.output()
      for (const token of tokens) assert.ok(!output.includes(token), 'a token was written to the output')
    })
  })
}
