import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Secret } from '../../../src/common/secret-file.js'
import { IdentityRefused, IdentityUnavailable } from '../../../src/errors.js'
import { ExchangeCache } from '../../../src/identity/exchange-cache.js'
import { createExchangeIdentity } from '../../../src/identity/exchange-identity.js'
import { parseTokenAnswer, tokenRequestForm, TokenEndpointFailure, type TokenRequest } from '../../../src/identity/exchange-request.js'
import type { ExchangeSettings } from '../../../src/identity/settings.js'
import { createTokenEndpointClient, type TokenEndpointClient } from '../../../src/identity/token-endpoint.js'
import type { Principal } from '../../../src/token/principal.js'

// Issue 15: the token requests as RFC 8693 §2.1 and the On-Behalf-Of grant spell them, the
// answers as RFC 6749 §5.1/§5.2 define them, and the cache lifetime rules, on a moved clock.

const SETTINGS: ExchangeSettings = {
  mode: 'exchange',
  flavour: 'rfc8693',
  tokenEndpoint: 'https://as.example.com/token',
  issuer: 'https://as.example.com',
  clientId: 'gw',
  clientAuth: { method: 'client_secret_basic', secret: new Secret('s') },
  audience: 'https://backend.example.com',
  resource: undefined,
  scope: ['backend:read'],
  tools: new Map([['admin_tool', ['backend:admin']]]),
  actorToken: 'none',
  appOnlyFallback: 'exchange',
  header: 'authorization',
  cacheMarginMs: 60_000,
  cacheSize: 2,
  timeoutMs: 1000,
  sharedCache: undefined,
}

describe('token requests', () => {
  test('rfc8693: subject token, types, audience, scope and the actor token', () => {
    const form = tokenRequestForm(SETTINGS, { kind: 'exchange', subjectToken: 'T', scope: ['a', 'b'], actorToken: 'A' })
    assert.deepEqual(Object.fromEntries(form), {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: 'T',
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      audience: 'https://backend.example.com',
      actor_token: 'A',
      actor_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      scope: 'a b',
    })
  })

  test('entra-obo: jwt-bearer with the assertion and requested_token_use', () => {
    const form = tokenRequestForm({ ...SETTINGS, flavour: 'entra-obo' }, { kind: 'exchange', subjectToken: 'T', scope: ['api://x/.default'] })
    assert.deepEqual(Object.fromEntries(form), {
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      assertion: 'T',
      requested_token_use: 'on_behalf_of',
      scope: 'api://x/.default',
    })
  })

  test('client credentials name the audience as resource only when it is a URI', () => {
    assert.deepEqual(Object.fromEntries(tokenRequestForm(SETTINGS, { kind: 'client_credentials', scope: [] })), {
      grant_type: 'client_credentials',
      resource: 'https://backend.example.com',
    })
    assert.deepEqual(Object.fromEntries(tokenRequestForm({ ...SETTINGS, audience: 'backend' }, { kind: 'client_credentials', scope: ['x'] })), {
      grant_type: 'client_credentials',
      scope: 'x',
    })
  })
})

describe('token answers', () => {
  const cases: { name: string; status: number; body: string; expected: { kind: 'refused' | 'unavailable'; code: string } | { expiresIn: number | undefined } }[] = [
    { name: 'a token with expires_in', status: 200, body: '{"access_token":"x","expires_in":300}', expected: { expiresIn: 300 } },
    { name: 'a token without expires_in', status: 200, body: '{"access_token":"x"}', expected: { expiresIn: undefined } },
    { name: 'a 200 without a token', status: 200, body: '{}', expected: { kind: 'unavailable', code: 'no_access_token' } },
    { name: 'invalid_grant', status: 400, body: '{"error":"invalid_grant"}', expected: { kind: 'refused', code: 'invalid_grant' } },
    { name: 'consent_required', status: 400, body: '{"error":"consent_required"}', expected: { kind: 'refused', code: 'consent_required' } },
    { name: "the gateway's own credentials", status: 401, body: '{"error":"invalid_client"}', expected: { kind: 'unavailable', code: 'invalid_client' } },
    { name: 'an error code that is not one', status: 400, body: '{"error":"<script>"}', expected: { kind: 'unavailable', code: 'http_400' } },
    { name: 'a 500', status: 500, body: 'oops', expected: { kind: 'unavailable', code: 'http_500' } },
  ]
  for (const c of cases) {
    test(c.name, () => {
      if ('expiresIn' in c.expected) {
        assert.deepEqual(parseTokenAnswer(c.status, c.body), { accessToken: 'x', expiresIn: c.expected.expiresIn })
      } else {
        const expected = c.expected
        assert.throws(() => parseTokenAnswer(c.status, c.body), (error: unknown) => {
          assert.ok(error instanceof TokenEndpointFailure)
          assert.deepEqual({ kind: error.kind, code: error.code }, expected)
          return true
        })
      }
    })
  }
})

/** A token endpoint that counts requests and answers with `expiresIn`. */
function countingEndpoint(expiresIn: number | undefined): TokenEndpointClient & { calls: TokenRequest[] } {
  const calls: TokenRequest[] = []
  return {
    calls,
    endpoint: async () => 'https://as.example.com/token',
    async request(request) {
      calls.push(request)
      return { accessToken: `exchanged-${calls.length}`, expiresIn }
    },
  }
}

function principal(subject: string, expiresAt: number): Principal {
  return { issuer: 'https://as.example.com', subject, clientId: 'app', scopes: new Set(), expiresAt, claims: {} }
}

describe('exchange cache lifetime', () => {
  test('kept until expires_in minus the margin, then exchanged again', async () => {
    let now = 1_000_000_000_000
    const client = countingEndpoint(300)
    const identity = createExchangeIdentity(SETTINGS, { client, now: () => now })
    const caller = { token: 'T', principal: principal('alice', now / 1000 + 3600), tool: undefined, jsonRpcId: undefined }
    assert.deepEqual((await identity.identify(caller)).add, { authorization: 'Bearer exchanged-1' })
    now += 239_000
    assert.deepEqual((await identity.identify(caller)).add, { authorization: 'Bearer exchanged-1' })
    now += 1_000
    assert.deepEqual((await identity.identify(caller)).add, { authorization: 'Bearer exchanged-2' })
  })

  test("never past the client token's exp", async () => {
    let now = 1_000_000_000_000
    const client = countingEndpoint(3600)
    const identity = createExchangeIdentity(SETTINGS, { client, now: () => now })
    const caller = { token: 'T', principal: principal('alice', now / 1000 + 10), tool: undefined, jsonRpcId: undefined }
    await identity.identify(caller)
    now += 9_999
    await identity.identify(caller)
    assert.equal(client.calls.length, 1)
    now += 1
    await identity.identify(caller)
    assert.equal(client.calls.length, 2)
  })

  test('an answer without expires_in serves its request only; per-tool scopes have their own entry', async () => {
    const client = countingEndpoint(undefined)
    const identity = createExchangeIdentity(SETTINGS, { client })
    const caller = { token: 'T', principal: principal('alice', Date.now() / 1000 + 3600), tool: 'admin_tool', jsonRpcId: 1 }
    await identity.identify(caller)
    await identity.identify(caller)
    assert.equal(client.calls.length, 2)
    assert.deepEqual(client.calls[0], { kind: 'exchange', subjectToken: 'T', scope: ['backend:admin'], actorToken: undefined })
  })

  test('refusals map to IdentityRefused (a JSON-RPC error for a tool call), failures to IdentityUnavailable', async () => {
    const failing = (failure: TokenEndpointFailure): TokenEndpointClient => ({
      endpoint: async () => '',
      request: async () => {
        throw failure
      },
    })
    const caller = { token: 'T', principal: principal('alice', Date.now() / 1000 + 3600), tool: 'x', jsonRpcId: 7 }
    await assert.rejects(Promise.resolve(createExchangeIdentity(SETTINGS, { client: failing(new TokenEndpointFailure('refused', 'invalid_scope')) }).identify(caller)), (error: unknown) => {
      assert.ok(error instanceof IdentityRefused)
      assert.equal(error.status, 200)
      assert.equal(error.jsonRpcId, 7)
      assert.equal(error.description, 'The authorization server refused a token for https://backend.example.com: invalid_scope')
      return true
    })
    await assert.rejects(
      Promise.resolve(createExchangeIdentity(SETTINGS, { client: failing(new TokenEndpointFailure('unavailable', 'timeout')) }).identify(caller)),
      IdentityUnavailable,
    )
  })

  test('the cache is bounded: the entry used longest ago goes first', async () => {
    const cache = new ExchangeCache(2)
    for (const key of ['a', 'b', 'c']) await cache.obtain(key, async () => ({ token: key, expiresAt: Infinity }))
    assert.equal(cache.get('a'), undefined)
    assert.equal(cache.get('b'), 'b')
    assert.equal(cache.get('c'), 'c')
  })
})

describe('the token endpoint client', () => {
  test('an answer larger than 256 KiB, sent without Content-Length, is given up as it passes the limit', async () => {
    let sent = 0
    const server = createServer((req, res) => {
      req.resume()
      res.writeHead(200, { 'content-type': 'application/json' })
      // Chunked, no length: only reading it tells how big it is. 1 MiB at most, in 16 KiB pieces.
      const piece = Buffer.alloc(16 * 1024, 0x20)
      const write = (): void => {
        while (sent < 1024 * 1024) {
          sent += piece.length
          if (!res.write(piece)) return void res.once('drain', write)
        }
        res.end()
      }
      write()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    try {
      const client = createTokenEndpointClient({ ...SETTINGS, tokenEndpoint: `http://127.0.0.1:${port}/token` })
      await assert.rejects(
        client.request({ kind: 'exchange', subjectToken: 'T', scope: ['a'], actorToken: undefined }),
        (error: TokenEndpointFailure) => error.code === 'answer_too_large' && error.kind === 'unavailable',
      )
    } finally {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
