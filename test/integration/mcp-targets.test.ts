import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js'
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js'
import { stringify } from 'yaml'
import { loadConfig } from '../../src/config/load.js'
import { reservePort } from '../../src/demo/reserve-port.js'
import { startGateway, type RunningGateway } from '../../src/server/http.js'
import { startAuthorizationServer, type AuthorizationServer } from '../support/authorization-server.js'
import { waitFor } from '../support/gateway.js'
import {
  PRIVATE_RESOURCE_URI,
  PUBLIC_RESOURCE_URI,
  startMcpBackend,
  type McpBackend,
} from '../support/mcp-backend.js'
import type { RecordedRequest } from '../support/record-request.js'

/**
 * Issue 3, the targets other than tools, with the SDK v1 client on client_credentials tokens from
 * oidc-provider, through the gateway to the stateful SDK backend: scopes per prompt and per
 * resource URI (exact keys and `*` prefixes; an exact key wins, then the longest prefix), filtered
 * `prompts/list` and `resources/list`, 403s naming the scopes, and the 2025-11-25 session requests
 * without a body (GET stream, DELETE) that need the `required` scopes only.
 */

const SCOPES = [
  'mcp:connect',
  'mcp:prompts:read',
  'mcp:resources:read',
  'prompts:secret',
  'files:all',
  'files:private',
  'keys:read',
  'keys:admin',
].join(' ')
const OTHER_PRIVATE_URI = 'file:///private/other.txt'
const OUTSIDE_URI = 'file:///etc/motd'
const PROTOCOL_VERSION = '2025-11-25'

let as: AuthorizationServer
let backend: McpBackend
let gateway: RunningGateway
let resource: string

before(async () => {
  const port = await reservePort()
  resource = `http://127.0.0.1:${port}/mcp`
  as = await startAuthorizationServer({ resources: { [resource]: { scope: SCOPES, format: 'jwt' } } })
  backend = await startMcpBackend({ mode: 'stateful' })
  const dir = mkdtempSync(join(tmpdir(), 'mcp-gw-targets-'))
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
        methods: {
          'prompts/list': ['mcp:prompts:read'],
          'prompts/get': ['mcp:prompts:read'],
          'resources/list': ['mcp:resources:read'],
          'resources/read': ['mcp:resources:read'],
        },
        prompts: { secret_prompt: ['prompts:secret'] },
        resources: {
          'file:///*': ['files:all'],
          'file:///public/*': [],
          'file:///private/*': ['files:private'],
          [PRIVATE_RESOURCE_URI]: ['keys:read'],
        },
        implies: { 'keys:admin': ['keys:read'] },
        filterLists: true,
      },
    }),
  )
  try {
    gateway = await startGateway(await loadConfig({ env: {}, argv: ['--config', file] }))
  } catch (error) {
    await Promise.allSettled([backend.close(), as.close()])
    throw error
  }
})
after(async () => {
  await gateway.close()
  await backend.close()
  await as.close()
})

interface Answer {
  method: string
  status: number
  wwwAuthenticate: string | null
}

interface Session {
  client: Client
  transport: StreamableHTTPClientTransport
  /** What the gateway answered to each request of this client. */
  answers: Answer[]
}

/** A v1 client holding a client_credentials token with `scope` (no OAuth provider: a 403 is final). */
async function connect(scope: string): Promise<Session> {
  const token = await as.clientCredentialsToken({ resource, scope })
  const answers: Answer[] = []
  const recording: FetchLike = async (url, init) => {
    const response = await fetch(url, init)
    answers.push({
      method: init?.method ?? 'GET',
      status: response.status,
      wwwAuthenticate: response.headers.get('www-authenticate'),
    })
    return response
  }
  const transport = new StreamableHTTPClientTransport(new URL(resource), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
    fetch: recording,
  })
  const client = new Client({ name: 'targets-test', version: '1.0.0' })
  await client.connect(transport)
  return { client, transport, answers }
}

async function withSession<T>(scope: string, run: (session: Session) => Promise<T>): Promise<T> {
  const session = await connect(scope)
  try {
    return await run(session)
  } finally {
    await session.client.close()
  }
}

/** Backend requests whose body carries a JSON-RPC `method`, counted from `since`. */
function backendCalls(since: number, method: string): RecordedRequest[] {
  const marker = `"method":"${method}"`
  return backend.requests.slice(since).filter((r) => r.body?.includes(marker) === true)
}

/** `scope="..."` of a challenge, sorted. */
function challengedScopes(challenge: string | null | undefined): string[] {
  const match = /(?:^|[ ,])scope="([^"]*)"/.exec(challenge ?? '')
  return (match?.[1] ?? '').split(' ').filter((s) => s !== '').sort()
}

/** Expects the gateway to refuse `operation` with 403 before the backend; returns the challenge's scopes. */
async function expectForbidden(
  session: Session,
  method: string,
  operation: () => Promise<unknown>,
): Promise<string[]> {
  const seen = backend.requests.length
  const answered = session.answers.length
  await assert.rejects(operation(), (error: unknown) => error instanceof StreamableHTTPError && error.code === 403)
  const forbidden = session.answers.slice(answered).find((a) => a.status === 403)
  assert.ok(forbidden, 'the gateway answered 403')
  const challenge = forbidden.wwwAuthenticate ?? ''
  assert.match(challenge, /^Bearer error="insufficient_scope", scope="[^"]+", resource_metadata="/)
  assert.doesNotMatch(challenge, /offline_access/)
  assert.equal(backendCalls(seen, method).length, 0, `${method} never reached the backend`)
  return challengedScopes(challenge)
}

const names = (list: { name: string }[]) => list.map((p) => p.name)
const uris = (list: { uri: string }[]) => list.map((r) => r.uri)

describe('per-prompt scopes', () => {
  test('prompts/list hides the prompts the caller could not get, in the backend order', async () => {
    const plain = await withSession('mcp:connect mcp:prompts:read', (s) => s.client.listPrompts())
    assert.deepEqual(names(plain.prompts), ['greeting'])
    const secret = await withSession('mcp:connect mcp:prompts:read prompts:secret', (s) => s.client.listPrompts())
    assert.deepEqual(names(secret.prompts), ['greeting', 'secret_prompt'])
  })

  test('prompts/list itself needs the method scope: 403 naming it', async () => {
    await withSession('mcp:connect', async (s) => {
      const scopes = await expectForbidden(s, 'prompts/list', () => s.client.listPrompts())
      assert.deepEqual(scopes, ['mcp:connect', 'mcp:prompts:read'])
    })
  })

  test('getPrompt: an open prompt passes, the secret one is 403 naming prompts:secret', async () => {
    await withSession('mcp:connect mcp:prompts:read', async (s) => {
      const greeting = await s.client.getPrompt({ name: 'greeting', arguments: { name: 'Ada' } })
      assert.deepEqual(greeting.messages[0]?.content, { type: 'text', text: 'Hello, Ada!' })
      const scopes = await expectForbidden(s, 'prompts/get', () => s.client.getPrompt({ name: 'secret_prompt' }))
      assert.deepEqual(scopes, ['mcp:connect', 'mcp:prompts:read', 'prompts:secret'])
    })
    await withSession('mcp:connect mcp:prompts:read prompts:secret', async (s) => {
      const secret = await s.client.getPrompt({ name: 'secret_prompt' })
      assert.deepEqual(secret.messages[0]?.content, { type: 'text', text: 'the secret prompt' })
    })
  })
})

describe('per-resource scopes: exact keys and * prefixes', () => {
  test('resources/list keeps what the caller may read; the exact key beats the prefix', async () => {
    const cases: [string, string[]][] = [
      ['mcp:connect mcp:resources:read', [PUBLIC_RESOURCE_URI]],
      // files:private covers file:///private/* but keys.txt has its own exact key.
      ['mcp:connect mcp:resources:read files:private', [PUBLIC_RESOURCE_URI]],
      ['mcp:connect mcp:resources:read keys:read', [PUBLIC_RESOURCE_URI, PRIVATE_RESOURCE_URI]],
      // keys:admin implies keys:read.
      ['mcp:connect mcp:resources:read keys:admin', [PUBLIC_RESOURCE_URI, PRIVATE_RESOURCE_URI]],
    ]
    for (const [scope, expected] of cases) {
      const listed = await withSession(scope, (s) => s.client.listResources())
      assert.deepEqual(uris(listed.resources), expected, scope)
    }
  })

  test('readResource: public passes; keys.txt is 403 naming its exact key, even with the prefix scope', async () => {
    await withSession('mcp:connect mcp:resources:read files:private', async (s) => {
      const readme = await s.client.readResource({ uri: PUBLIC_RESOURCE_URI })
      assert.deepEqual(readme.contents, [{ uri: PUBLIC_RESOURCE_URI, mimeType: 'text/plain', text: 'public readme' }])
      const read = () => s.client.readResource({ uri: PRIVATE_RESOURCE_URI })
      const scopes = await expectForbidden(s, 'resources/read', read)
      assert.deepEqual(scopes, ['keys:read', 'mcp:connect', 'mcp:resources:read'])
    })
    await withSession('mcp:connect mcp:resources:read keys:admin', async (s) => {
      const keys = await s.client.readResource({ uri: PRIVATE_RESOURCE_URI })
      assert.deepEqual(keys.contents, [{ uri: PRIVATE_RESOURCE_URI, mimeType: 'text/plain', text: 'private keys' }])
    })
  })

  test('a URI without an exact key takes the longest matching prefix', async () => {
    await withSession('mcp:connect mcp:resources:read', async (s) => {
      // file:///private/* (files:private) is longer than file:///* (files:all).
      const read = (uri: string) => () => s.client.readResource({ uri })
      const privateScopes = await expectForbidden(s, 'resources/read', read(OTHER_PRIVATE_URI))
      assert.deepEqual(privateScopes, ['files:private', 'mcp:connect', 'mcp:resources:read'])
      const outsideScopes = await expectForbidden(s, 'resources/read', read(OUTSIDE_URI))
      assert.deepEqual(outsideScopes, ['files:all', 'mcp:connect', 'mcp:resources:read'])
    })
    await withSession('mcp:connect mcp:resources:read files:private', async (s) => {
      // Allowed by the gateway: the backend itself answers that no such resource exists.
      const seen = backend.requests.length
      await assert.rejects(s.client.readResource({ uri: OTHER_PRIVATE_URI }), (error: unknown) => {
        assert.ok(error instanceof McpError, String(error))
        assert.notEqual(error.code, ErrorCode.ConnectionClosed)
        return true
      })
      assert.equal(backendCalls(seen, 'resources/read').length, 1, 'the read reached the backend')
      assert.equal(s.answers.at(-1)?.status, 200)
    })
  })
})

describe('2025-11-25 session requests without a body: GET stream and DELETE', () => {
  test('go through with the required scope only, carry no Authorization, keep MCP-Protocol-Version', async () => {
    const seen = backend.requests.length
    const session = await connect('mcp:connect')
    const sessionId = session.transport.sessionId
    assert.ok(sessionId, 'the stateful backend issued a session id')
    try {
      // After `notifications/initialized` the SDK client opens its GET stream on its own.
      await waitFor(() => session.answers.some((a) => a.method === 'GET'), 'the gateway to answer the GET stream')
      assert.equal(session.answers.find((a) => a.method === 'GET')?.status, 200)
      await session.transport.terminateSession()
      assert.equal(session.answers.find((a) => a.method === 'DELETE')?.status, 200)
    } finally {
      await session.client.close()
    }
    const requests = backend.requests.slice(seen)
    const get = requests.find((r) => r.method === 'GET')
    const del = requests.find((r) => r.method === 'DELETE')
    for (const [name, request] of [['GET', get], ['DELETE', del]] as const) {
      assert.ok(request, `${name} reached the backend`)
      assert.equal(request.headers['mcp-protocol-version'], PROTOCOL_VERSION, `${name} MCP-Protocol-Version`)
      assert.equal(request.headers['mcp-session-id'], sessionId, `${name} session id`)
    }
    for (const request of requests) {
      assert.equal(request.headers.authorization, undefined, `${request.method} carried no Authorization`)
    }
    assert.equal(backend.sessionIds().includes(sessionId), false, 'the DELETE ended the backend session')
  })

  test('without the required scope both are 403 naming it, and never reach the backend', async () => {
    const session = await connect('mcp:connect')
    const sessionId = session.transport.sessionId ?? ''
    const token = await as.clientCredentialsToken({ resource, scope: 'mcp:prompts:read mcp:resources:read' })
    const headers = {
      authorization: `Bearer ${token}`,
      'mcp-session-id': sessionId,
      'mcp-protocol-version': PROTOCOL_VERSION,
    }
    try {
      const seen = backend.requests.length
      for (const method of ['GET', 'DELETE']) {
        const url = new URL(new URL(resource).pathname, gateway.url)
        const response = await fetch(url, { method, headers: { ...headers, accept: 'text/event-stream' } })
        await response.body?.cancel()
        assert.equal(response.status, 403, method)
        const challenge = response.headers.get('www-authenticate')
        assert.match(challenge ?? '', /^Bearer error="insufficient_scope"/)
        assert.deepEqual(challengedScopes(challenge), ['mcp:connect'], method)
      }
      assert.equal(backend.requests.length, seen, 'neither reached the backend')
      assert.equal(backend.sessionIds().includes(sessionId), true, 'the session is still open')
    } finally {
      await session.client.close()
    }
  })
})
