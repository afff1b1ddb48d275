import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { JWTPayload } from 'jose'
import { startAuthorizationServer } from '../support/authorization-server.js'
import type { AuthorizationServer } from '../support/authorization-server.js'
import {
  gatewayMcpUrl,
  headerLines,
  makeTempDir,
  mcpHeaders,
  postMcp,
  send,
  startGatewayStack,
  startTestGateway,
  waitFor,
  INITIALIZE_BODY,
  withDpopChallenge,
} from '../support/gateway.js'
import type { GatewayStack, RawResponse, TestGateway } from '../support/gateway.js'
import { startMcpBackend } from '../support/mcp-backend.js'
import type { McpBackend } from '../support/mcp-backend.js'
import { accessTokenClaims, algNoneToken, createTestKeys, hs256WithPublicKey, mintJwt } from '../support/tokens.js'
import type { TestKeys } from '../support/tokens.js'

// Every challenge case of issue 2 against the real gateway (README "What it does on the wire", docs/errors.md).

const ISSUER = 'https://issuer.test'
const SCOPE = 'mcp:read'
const DESCRIPTION = {
  malformedHeader: 'Malformed Bearer authorization header',
  twoHeaders: 'Send exactly one Authorization header',
  malformed: 'The token is malformed',
  expired: 'The token has expired',
  notYetValid: 'The token is not valid yet',
  issuer: 'The token was issued by an untrusted issuer',
  audience: 'The token was not issued for this resource',
  unknownKey: 'The token was signed with an unknown key',
  algorithm: 'The token uses an algorithm that is not allowed',
  signature: 'The token signature is invalid',
  noExpiry: 'The token has no expiry',
  type: 'The token is not an access token',
  scope: 'The access token lacks the scope this operation needs',
  noCredentials: 'Bearer access token required',
  tokenInQuery: 'Send the access token in the Authorization header, never in the URL',
  formBody: 'Form-encoded bodies are not accepted; send JSON and the token in the Authorization header',
}

interface Expected {
  status: number
  /** The exact WWW-Authenticate value. */
  challenge?: string
  /** The exact JSON body. */
  body?: { error: string; error_description: string }
}

function metadataUrl(gateway: TestGateway): string {
  return gateway.config.resource.metadataUri
}

function noCredentials(gateway: TestGateway, scope = SCOPE): Expected {
  return {
    status: 401,
    challenge: `Bearer resource_metadata="${metadataUrl(gateway)}", scope="${scope}"`,
    body: { error: 'no_credentials', error_description: DESCRIPTION.noCredentials },
  }
}

function bearerError(gateway: TestGateway, status: number, error: string, description: string, scope = SCOPE): Expected {
  return {
    status,
    challenge: `Bearer error="${error}", scope="${scope}", resource_metadata="${metadataUrl(gateway)}", error_description="${description}"`,
    body: { error, error_description: description },
  }
}

/** Status, the challenge line (with DPoP's beside it on a 401) or none, no-store, the JSON body, and no token echoed anywhere. */
function assertRefusal(response: RawResponse, expected: Expected, tokens: readonly string[]): void {
  assert.equal(response.status, expected.status, `status; body ${response.body}`)
  const challenges = headerLines(response, 'www-authenticate')
  if (expected.challenge === undefined) assert.deepEqual(challenges, [])
  else assert.deepEqual(challenges, expected.status === 401 ? withDpopChallenge(expected.challenge) : [expected.challenge])
  assert.deepEqual(headerLines(response, 'cache-control'), ['no-store'])
  assert.equal(response.headers['content-type'], 'application/json')
  if (expected.body !== undefined) assert.deepEqual(JSON.parse(response.body), expected.body)
  const wire = `${response.rawHeaders.join('\n')}\n${response.body}`
  for (const token of tokens) {
    if (token.length >= 8) assert.ok(!wire.includes(token), 'the token is echoed in the response')
  }
  assert.ok(!/error_description="[^"]*=/.test(challenges.join('')), 'a description contains "="')
}

describe('challenges: keys from a JWKS file (MCP_JWT_KEY_FILE)', () => {
  let keys: TestKeys
  let other: TestKeys
  let backend: McpBackend
  let gateway: TestGateway
  let removeDir: () => Promise<void>

  const claims = (overrides: Partial<JWTPayload> = {}): JWTPayload => ({
    ...accessTokenClaims({ issuer: ISSUER, audience: gateway.canonicalUri, scope: 'mcp:read mcp:write' }),
    ...overrides,
  })
  const mint = (overrides: Partial<JWTPayload> = {}, header?: Record<string, unknown>): Promise<string> =>
    mintJwt({ key: keys.rsa, claims: claims(overrides), ...(header === undefined ? {} : { header }) })
  const now = (): number => Math.floor(Date.now() / 1000)

  before(async () => {
    keys = await createTestKeys()
    other = await createTestKeys()
    const temp = await makeTempDir()
    removeDir = temp.remove
    backend = await startMcpBackend({ mode: 'stateless' })
    gateway = await startTestGateway({
      env: {
        MCP_AUTHORIZATION_SERVER: ISSUER,
        MCP_JWT_KEY_FILE: await keys.writeJwksFile(temp.dir),
        MCP_BACKEND: backend.origin,
        MCP_REQUIRED_SCOPE: SCOPE,
        MCP_SCOPES_SUPPORTED: 'mcp:read mcp:write',
        MCP_CLOCK_SKEW: '5s',
      },
    })
  })
  after(async () => {
    await gateway?.close()
    await backend?.close()
    await removeDir?.()
  })

  const refused: { name: string; authorization: () => Promise<string | string[] | undefined>; expected: () => Expected }[] = [
    { name: 'no Authorization header: 401 without error', authorization: async () => undefined, expected: () => noCredentials(gateway) },
    { name: 'another scheme (Basic): 401 without error', authorization: async () => 'Basic dXNlcjpwYXNz', expected: () => noCredentials(gateway) },
    {
      name: 'malformed header: 400 invalid_request',
      authorization: async () => `Bearer ${await mint()} extra`,
      expected: () => bearerError(gateway, 400, 'invalid_request', DESCRIPTION.malformedHeader),
    },
    {
      name: 'two Authorization headers: 400 invalid_request',
      authorization: async () => {
        const token = await mint()
        return [`Bearer ${token}`, `Bearer ${token}`]
      },
      expected: () => bearerError(gateway, 400, 'invalid_request', DESCRIPTION.twoHeaders),
    },
    {
      name: 'a token that is not a JWT',
      authorization: async () => 'Bearer not-a-jwt',
      expected: () => bearerError(gateway, 401, 'invalid_token', DESCRIPTION.malformed),
    },
    {
      name: 'three segments that are not JSON',
      authorization: async () => 'Bearer aaaa.bbbb.cccc',
      expected: () => bearerError(gateway, 401, 'invalid_token', DESCRIPTION.malformed),
    },
    {
      name: 'expired',
      authorization: async () => `Bearer ${await mint({ iat: now() - 3600, exp: now() - 60 })}`,
      expected: () => bearerError(gateway, 401, 'invalid_token', DESCRIPTION.expired),
    },
    {
      name: 'expired and lacking the scope: 401, never 403',
      authorization: async () => `Bearer ${await mint({ iat: now() - 3600, exp: now() - 60, scope: 'other' })}`,
      expected: () => bearerError(gateway, 401, 'invalid_token', DESCRIPTION.expired),
    },
    {
      name: 'not yet valid: nbf in the future',
      authorization: async () => `Bearer ${await mint({ nbf: now() + 120 })}`,
      expected: () => bearerError(gateway, 401, 'invalid_token', DESCRIPTION.notYetValid),
    },
    {
      name: 'not yet valid: iat in the future',
      authorization: async () => `Bearer ${await mint({ iat: now() + 120, exp: now() + 3600 })}`,
      expected: () => bearerError(gateway, 401, 'invalid_token', DESCRIPTION.notYetValid),
    },
    {
      name: 'wrong issuer',
      authorization: async () => `Bearer ${await mint({ iss: 'https://evil.test' })}`,
      expected: () => bearerError(gateway, 401, 'invalid_token', DESCRIPTION.issuer),
    },
    {
      name: 'issuer differing only by a trailing slash',
      authorization: async () => `Bearer ${await mint({ iss: `${ISSUER}/` })}`,
      expected: () => bearerError(gateway, 401, 'invalid_token', DESCRIPTION.issuer),
    },
    {
      name: 'no issuer',
      authorization: async () => `Bearer ${await mint({ iss: undefined })}`,
      expected: () => bearerError(gateway, 401, 'invalid_token', DESCRIPTION.issuer),
    },
    {
      name: 'wrong audience',
      authorization: async () => `Bearer ${await mint({ aud: 'https://other.example.com/mcp' })}`,
      expected: () => bearerError(gateway, 401, 'invalid_token', DESCRIPTION.audience),
    },
    {
      name: 'audience with a trailing slash',
      authorization: async () => `Bearer ${await mint({ aud: `${gateway.canonicalUri}/` })}`,
      expected: () => bearerError(gateway, 401, 'invalid_token', DESCRIPTION.audience),
    },
    {
      name: 'audience array without the resource',
      authorization: async () => `Bearer ${await mint({ aud: ['https://a.example.com', 'https://b.example.com'] })}`,
      expected: () => bearerError(gateway, 401, 'invalid_token', DESCRIPTION.audience),
    },
    {
      name: 'no audience',
      authorization: async () => `Bearer ${await mint({ aud: undefined })}`,
      expected: () => bearerError(gateway, 401, 'invalid_token', DESCRIPTION.audience),
    },
    {
      name: 'unknown kid (a key the file does not hold)',
      authorization: async () => `Bearer ${await mintJwt({ key: other.rsa, claims: claims() })}`,
      expected: () => bearerError(gateway, 401, 'invalid_token', DESCRIPTION.unknownKey),
    },
    {
      name: 'a known kid over another key: bad signature',
      authorization: async () => `Bearer ${await mintJwt({ key: other.rsa, claims: claims(), header: { kid: keys.rsa.kid } })}`,
      expected: () => bearerError(gateway, 401, 'invalid_token', DESCRIPTION.signature),
    },
    {
      name: 'a tampered payload: bad signature',
      authorization: async () => {
        const [header, , signature] = (await mint()).split('.')
        const payload = Buffer.from(JSON.stringify(claims({ scope: 'mcp:read mcp:write mcp:admin' }))).toString('base64url')
        return `Bearer ${header}.${payload}.${signature}`
      },
      expected: () => bearerError(gateway, 401, 'invalid_token', DESCRIPTION.signature),
    },
    {
      name: 'alg: none',
      authorization: async () => `Bearer ${algNoneToken(claims())}`,
      expected: () => bearerError(gateway, 401, 'invalid_token', DESCRIPTION.algorithm),
    },
    {
      name: 'alg: none with a known kid',
      authorization: async () => `Bearer ${algNoneToken(claims(), { kid: keys.rsa.kid })}`,
      expected: () => bearerError(gateway, 401, 'invalid_token', DESCRIPTION.algorithm),
    },
    {
      name: 'HS256 signed with the public key (PEM)',
      authorization: async () => `Bearer ${await hs256WithPublicKey(keys.rsa.publicJwk, claims())}`,
      expected: () => bearerError(gateway, 401, 'invalid_token', DESCRIPTION.algorithm),
    },
    {
      name: 'HS256 signed with the public key (JWK JSON)',
      authorization: async () => `Bearer ${await hs256WithPublicKey(keys.rsa.publicJwk, claims(), { secretFormat: 'jwk-json' })}`,
      expected: () => bearerError(gateway, 401, 'invalid_token', DESCRIPTION.algorithm),
    },
    {
      name: 'missing exp',
      authorization: async () => `Bearer ${await mint({ exp: undefined })}`,
      expected: () => bearerError(gateway, 401, 'invalid_token', DESCRIPTION.noExpiry),
    },
    {
      name: 'exp that is not a number',
      authorization: async () => `Bearer ${await mint({ exp: 'tomorrow' as unknown as number })}`,
      expected: () => bearerError(gateway, 401, 'invalid_token', DESCRIPTION.malformed),
    },
    {
      name: 'nbf that is not a number',
      authorization: async () => `Bearer ${await mint({ nbf: 'now' as unknown as number })}`,
      expected: () => bearerError(gateway, 401, 'invalid_token', DESCRIPTION.malformed),
    },
    {
      name: 'typ that is not a string',
      authorization: async () => `Bearer ${await mint({}, { typ: ['at+jwt'] })}`,
      expected: () => bearerError(gateway, 401, 'invalid_token', DESCRIPTION.type),
    },
    {
      name: 'an embedded jwk header is never trusted',
      authorization: async () =>
        `Bearer ${await mintJwt({ key: other.rsa, claims: claims(), header: { jwk: other.rsa.publicJwk } })}`,
      expected: () => bearerError(gateway, 401, 'invalid_token', DESCRIPTION.unknownKey),
    },
    {
      name: 'typ of another kind of JWT',
      authorization: async () => `Bearer ${await mint({}, { typ: 'secevent+jwt' })}`,
      expected: () => bearerError(gateway, 401, 'invalid_token', DESCRIPTION.type),
    },
    {
      name: 'typ of a DPoP proof',
      authorization: async () => `Bearer ${await mint({}, { typ: 'dpop+jwt' })}`,
      expected: () => bearerError(gateway, 401, 'invalid_token', DESCRIPTION.type),
    },
    {
      name: 'insufficient scope: 403 naming the required scope',
      authorization: async () => `Bearer ${await mint({ scope: 'mcp:write' })}`,
      expected: () => bearerError(gateway, 403, 'insufficient_scope', DESCRIPTION.scope),
    },
    {
      name: 'no scope at all: 403',
      authorization: async () => `Bearer ${await mint({ scope: undefined })}`,
      expected: () => bearerError(gateway, 403, 'insufficient_scope', DESCRIPTION.scope),
    },
  ]

  for (const row of refused) {
    test(row.name, async () => {
      const before = backend.requests.length
      const authorization = await row.authorization()
      const response = await postMcp(gateway, authorization)
      const tokens = (Array.isArray(authorization) ? authorization : authorization === undefined ? [] : [authorization]).map((a) =>
        a.replace(/^\S+\s+/, ''),
      )
      assertRefusal(response, row.expected(), tokens)
      assert.equal(backend.requests.length, before, 'a refused request reached the backend')
    })
  }

  // RFC 6750 §2.3 and §2.2 are not supported: the request is refused, never forwarded.
  test('a token only in the query string: 400 invalid_request', async () => {
    const token = await mint()
    const before = backend.requests.length
    const response = await send(`${gatewayMcpUrl(gateway)}?access_token=${token}`, {
      method: 'POST',
      headers: mcpHeaders(),
      body: INITIALIZE_BODY,
    })
    assertRefusal(response, bearerError(gateway, 400, 'invalid_request', DESCRIPTION.tokenInQuery), [token])
    assert.equal(backend.requests.length, before)
  })

  test('a token only in a form body: 400 invalid_request', async () => {
    const token = await mint()
    const before = backend.requests.length
    const response = await send(gatewayMcpUrl(gateway), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `access_token=${token}`,
    })
    assertRefusal(response, bearerError(gateway, 400, 'invalid_request', DESCRIPTION.formBody), [token])
    assert.equal(backend.requests.length, before)
  })

  const accepted: { name: string; authorization: () => Promise<string> }[] = [
    { name: 'a valid token', authorization: async () => `Bearer ${await mint()}` },
    { name: 'the scheme in lower case (bearer)', authorization: async () => `bearer ${await mint()}` },
    { name: 'the scheme in upper case (BEARER)', authorization: async () => `BEARER ${await mint()}` },
    { name: 'an ES256 token', authorization: async () => `Bearer ${await mintJwt({ key: keys.ec, claims: claims() })}` },
    {
      name: 'an audience array containing the resource',
      authorization: async () => `Bearer ${await mint({ aud: ['https://other.example.com', gateway.canonicalUri] })}`,
    },
    {
      name: 'the audience with an upper-case scheme and host',
      authorization: async () => `Bearer ${await mint({ aud: gateway.canonicalUri.replace('http://', 'HTTP://') })}`,
    },
    {
      name: 'expired 2 s ago, inside the 5 s clock skew',
      authorization: async () => `Bearer ${await mint({ iat: now() - 600, exp: now() - 2 })}`,
    },
    { name: 'typ JWT', authorization: async () => `Bearer ${await mint({}, { typ: 'JWT' })}` },
    { name: 'no typ', authorization: async () => `Bearer ${await mint({}, { typ: undefined })}` },
    { name: 'scopes in an scp array', authorization: async () => `Bearer ${await mint({ scope: undefined, scp: ['mcp:read'] })}` },
  ]
  for (const row of accepted) {
    test(`accepted: ${row.name}`, async () => {
      const before = backend.requests.length
      const authorization = await row.authorization()
      const response = await postMcp(gateway, authorization)
      assert.equal(response.status, 200, response.body)
      assert.match(response.body, /"serverInfo"/)
      const forwarded = backend.requests.slice(before)
      assert.equal(forwarded.length, 1)
      assert.equal(forwarded[0]?.headers.authorization, undefined)
      assert.ok(!forwarded[0]?.rawHeaders.some((h) => h.toLowerCase() === 'authorization'))
    })
  }

  test('a repeated valid token is served from the verified cache and still accepted', async () => {
    const token = await mint()
    for (let i = 0; i < 3; i++) assert.equal((await postMcp(gateway, `Bearer ${token}`)).status, 200)
  })
})

describe('keys from the authorization server (MCP_JWKS_URI) and key rotation', () => {
  let stack: GatewayStack
  const OTHER_RESOURCE = 'https://other.example.com/mcp'

  before(async () => {
    stack = await startGatewayStack({
      env: { MCP_JWKS_COOLDOWN: '100ms', MCP_REQUIRED_SCOPE: SCOPE },
      extraResources: { [OTHER_RESOURCE]: { scope: 'mcp:read', format: 'jwt' } },
    })
    await waitFor(() => stack.gateway.running.verifier.ready?.() === true, 'keys loaded from the JWKS URI')
  })
  after(async () => {
    await stack?.close()
  })

  test('a client_credentials token from the AS is accepted', async () => {
    const response = await postMcp(stack.gateway, `Bearer ${await stack.token()}`)
    assert.equal(response.status, 200, response.body)
  })

  test('a token the AS issued for another resource: wrong audience', async () => {
    const token = await stack.as.clientCredentialsToken({ resource: OTHER_RESOURCE, scope: 'mcp:read' })
    const response = await postMcp(stack.gateway, `Bearer ${token}`)
    assertRefusal(response, bearerError(stack.gateway, 401, 'invalid_token', DESCRIPTION.audience), [token])
  })

  test('a token lacking the required scope: 403 insufficient_scope', async () => {
    const token = await stack.token('mcp:write')
    const response = await postMcp(stack.gateway, `Bearer ${token}`)
    assertRefusal(response, bearerError(stack.gateway, 403, 'insufficient_scope', DESCRIPTION.scope), [token])
  })

  test('a new kid after rotation at the AS: accepted after exactly one JWKS refetch', async () => {
    await stack.as.rotateSigningKey()
    const token = await stack.token()
    // Past the cooldown since the last fetch, so the unknown kid may trigger a refetch.
    await new Promise((resolve) => setTimeout(resolve, 150))
    const fetchesBefore = stack.as.requestCount('/jwks')
    const response = await postMcp(stack.gateway, `Bearer ${token}`)
    assert.equal(response.status, 200, response.body)
    assert.equal(stack.as.requestCount('/jwks') - fetchesBefore, 1)
  })

  test('a burst of concurrent requests with a new kid causes one refetch', async () => {
    await stack.as.rotateSigningKey()
    const tokens = await Promise.all(Array.from({ length: 3 }, () => stack.token()))
    await new Promise((resolve) => setTimeout(resolve, 150))
    const fetchesBefore = stack.as.requestCount('/jwks')
    const responses = await Promise.all(
      Array.from({ length: 12 }, (_, i) => postMcp(stack.gateway, `Bearer ${tokens[i % tokens.length] as string}`)),
    )
    assert.deepEqual(
      responses.map((r) => r.status),
      responses.map(() => 200),
    )
    assert.equal(stack.as.requestCount('/jwks') - fetchesBefore, 1)
  })

  test('an unknown kid: one refetch, then refused without a refetch within the cooldown', async () => {
    // A second gateway on the same AS with the default 30 s cooldown.
    const gateway = await startTestGateway({
      env: {
        MCP_AUTHORIZATION_SERVER: stack.as.issuer,
        MCP_JWKS_URI: stack.as.jwksUri,
        MCP_BACKEND: stack.backend.origin,
        MCP_REQUIRED_SCOPE: SCOPE,
      },
    })
    try {
      await waitFor(() => gateway.running.verifier.ready?.() === true, 'keys loaded')
      const keys = await createTestKeys()
      const forged = await mintJwt({
        key: keys.rsa,
        claims: accessTokenClaims({ issuer: stack.as.issuer, audience: gateway.canonicalUri, scope: SCOPE }),
      })
      const fetchesBefore = stack.as.requestCount('/jwks')
      for (let i = 0; i < 3; i++) {
        const response = await postMcp(gateway, `Bearer ${forged}`)
        assertRefusal(response, bearerError(gateway, 401, 'invalid_token', DESCRIPTION.unknownKey), [forged])
      }
      assert.equal(stack.as.requestCount('/jwks') - fetchesBefore, 1)
    } finally {
      await gateway.close()
    }
  })

  test('a new kid right after start-up is accepted on its first request (the start-up fetch starts no cooldown)', async () => {
    const gateway = await startTestGateway({
      env: {
        MCP_AUTHORIZATION_SERVER: stack.as.issuer,
        MCP_JWKS_URI: stack.as.jwksUri,
        MCP_BACKEND: stack.backend.origin,
        MCP_REQUIRED_SCOPE: SCOPE,
        // The resource the AS issues tokens for; this gateway listens elsewhere.
        MCP_CANONICAL_URI: stack.gateway.canonicalUri,
      },
    })
    try {
      await waitFor(() => gateway.running.verifier.ready?.() === true, 'keys loaded')
      await stack.as.rotateSigningKey()
      const token = await stack.token()
      const response = await postMcp(gateway, `Bearer ${token}`)
      assert.equal(response.status, 200, response.body)
    } finally {
      await gateway.close()
    }
  })
})

describe('keys by discovery (MCP_JWT_DISCOVERY=on) against oidc-provider', () => {
  let stack: GatewayStack

  before(async () => {
    stack = await startGatewayStack({ keys: 'discovery' })
  })
  after(async () => {
    await stack?.close()
  })

  test('finds jwks_uri from the issuer and accepts the AS token', async () => {
    const response = await postMcp(stack.gateway, `Bearer ${await stack.token()}`)
    assert.equal(response.status, 200, response.body)
    assert.ok(stack.as.requestCount('/.well-known/') >= 1)
    assert.ok(stack.as.requestCount('/jwks') >= 1)
    await waitFor(async () => (await send(`${stack.gateway.url}/readyz`)).status === 200, '/readyz 200')
  })
})

describe('keys unavailable: 503 with Retry-After, never a 200', () => {
  let as: AuthorizationServer
  let backend: McpBackend
  const gateways: TestGateway[] = []

  before(async () => {
    as = await startAuthorizationServer({ resources: {} })
    backend = await startMcpBackend({ mode: 'stateless' })
  })
  after(async () => {
    for (const gateway of gateways) await gateway.close()
    await backend?.close()
    await as?.close()
  })

  async function assertUnavailable(gateway: TestGateway, token: string): Promise<void> {
    for (let i = 0; i < 2; i++) {
      const response = await postMcp(gateway, `Bearer ${token}`)
      assertRefusal(response, { status: 503 }, [token])
      const retryAfter = Number(headerLines(response, 'retry-after')[0])
      assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 30, `Retry-After ${retryAfter}`)
      const body = JSON.parse(response.body) as Record<string, unknown>
      assert.equal(body.error, 'verifier_unavailable')
      assert.equal(typeof body.error_description, 'string')
    }
    assert.equal(backend.requests.length, 0)
    const ready = await send(`${gateway.url}/readyz`)
    assert.equal(ready.status, 503)
    assert.equal((JSON.parse(ready.body) as { keys: boolean }).keys, false)
  }

  test('discovery refused: the metadata names another issuer', async () => {
    // The AS publishes `http://127.0.0.1:<port>`; configured with a trailing slash, the strings differ (RFC 8414 §3.3).
    const configured = `${as.issuer}/`
    const gateway = await startTestGateway({
      env: { MCP_AUTHORIZATION_SERVER: configured, MCP_JWT_DISCOVERY: 'on', MCP_BACKEND: backend.origin },
    })
    gateways.push(gateway)
    const keys = await createTestKeys()
    const token = await mintJwt({
      key: keys.rsa,
      claims: accessTokenClaims({ issuer: configured, audience: gateway.canonicalUri, scope: SCOPE }),
    })
    await assertUnavailable(gateway, token)
  })

  test('the JWKS URI does not answer: 503, and the AS is not asked again on every request', async () => {
    const gateway = await startTestGateway({
      env: { MCP_AUTHORIZATION_SERVER: as.issuer, MCP_JWKS_URI: `${as.url}/no-such-jwks`, MCP_BACKEND: backend.origin },
    })
    gateways.push(gateway)
    await waitFor(() => as.requestCount('/no-such-jwks') >= 1, 'the warm-up fetch')
    const keys = await createTestKeys()
    const token = await mintJwt({
      key: keys.rsa,
      claims: accessTokenClaims({ issuer: as.issuer, audience: gateway.canonicalUri, scope: SCOPE }),
    })
    await assertUnavailable(gateway, token)
    // Ten requests at once: at most one attempt among them (retries wait half a second at the soonest).
    const before = as.requestCount('/no-such-jwks')
    const burst = await Promise.all(Array.from({ length: 10 }, () => postMcp(gateway, `Bearer ${token}`)))
    assert.deepEqual(burst.map((r) => r.status), burst.map(() => 503))
    assert.ok(as.requestCount('/no-such-jwks') - before <= 1, `${as.requestCount('/no-such-jwks') - before} fetches`)
  })
})

describe('keys kept while the authorization server is down (stale-if-error)', () => {
  let stack: GatewayStack
  let removeDir: () => Promise<void>

  before(async () => {
    const temp = await makeTempDir()
    removeDir = temp.remove
    const file = join(temp.dir, 'gateway.yaml')
    // jwksCacheMaxAge has no variable: the file sets it, the environment the rest (merged by index).
    await writeFile(file, 'authorizationServers:\n  - jwksCacheMaxAge: 200ms\n')
    stack = await startGatewayStack({ env: { MCP_CONFIG: file } })
    await waitFor(() => stack.gateway.running.verifier.ready?.() === true, 'keys loaded from the JWKS URI')
  })
  after(async () => {
    await stack?.close()
    await removeDir?.()
  })

  test('past the cache age with the AS gone, tokens signed by known keys are still accepted', async () => {
    const tokens = await Promise.all([stack.token(), stack.token()])
    await stack.as.close()
    await new Promise((resolve) => setTimeout(resolve, 300))
    for (const token of tokens) {
      const response = await postMcp(stack.gateway, `Bearer ${token}`)
      assert.equal(response.status, 200, response.body)
    }
    const ready = await send(`${stack.gateway.url}/readyz`)
    assert.equal(ready.status, 200)
  })
})
