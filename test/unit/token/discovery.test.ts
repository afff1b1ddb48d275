import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { DiscoveryError, discoverAuthorizationServer, discoveryUrls } from '../../../src/token/discovery.js'

// RFC 8414 §3.1 (https://www.rfc-editor.org/rfc/rfc8414#section-3.1) path insertion, then OpenID
// Connect Discovery 1.0 §4 in both forms, in the order the MCP SDK client tries them.

describe('discoveryUrls', () => {
  const rows: { issuer: string; urls: string[] }[] = [
    {
      issuer: 'https://as.example.com',
      urls: ['https://as.example.com/.well-known/oauth-authorization-server', 'https://as.example.com/.well-known/openid-configuration'],
    },
    {
      issuer: 'https://as.example.com/',
      urls: ['https://as.example.com/.well-known/oauth-authorization-server', 'https://as.example.com/.well-known/openid-configuration'],
    },
    {
      // The RFC 8414 §3.1 example: "https://example.com/issuer1".
      issuer: 'https://example.com/issuer1',
      urls: [
        'https://example.com/.well-known/oauth-authorization-server/issuer1',
        'https://example.com/.well-known/openid-configuration/issuer1',
        'https://example.com/issuer1/.well-known/openid-configuration',
      ],
    },
    {
      // "any terminating / MUST be removed before inserting" (RFC 8414 §3.1).
      issuer: 'https://login.example.com/tenant/v2.0/',
      urls: [
        'https://login.example.com/.well-known/oauth-authorization-server/tenant/v2.0',
        'https://login.example.com/.well-known/openid-configuration/tenant/v2.0',
        'https://login.example.com/tenant/v2.0/.well-known/openid-configuration',
      ],
    },
    {
      issuer: 'http://127.0.0.1:9000',
      urls: ['http://127.0.0.1:9000/.well-known/oauth-authorization-server', 'http://127.0.0.1:9000/.well-known/openid-configuration'],
    },
  ]
  for (const row of rows) {
    test(row.issuer, () => {
      assert.deepEqual(discoveryUrls(row.issuer), row.urls)
    })
  }
})

/** A fetch that answers from a table by URL and records what was asked. */
function tableFetch(table: Record<string, Response | Error>): { fetch: typeof fetch; asked: string[] } {
  const asked: string[] = []
  const fake = (async (input: string | URL | Request) => {
    const url = String(input)
    asked.push(url)
    const answer = table[url]
    if (answer === undefined) return new Response('not found', { status: 404 })
    if (answer instanceof Error) throw answer
    return answer
  }) as typeof fetch
  return { fetch: fake, asked }
}

const json = (value: unknown) => new Response(JSON.stringify(value), { status: 200, headers: { 'content-type': 'application/json' } })

describe('discoverAuthorizationServer', () => {
  const ISSUER = 'https://example.com/issuer1'

  test('RFC 8414 first', async () => {
    const { fetch, asked } = tableFetch({
      'https://example.com/.well-known/oauth-authorization-server/issuer1': json({ issuer: ISSUER, jwks_uri: 'https://example.com/jwks' }),
    })
    const found = await discoverAuthorizationServer(ISSUER, { timeoutMs: 1000, fetch })
    assert.equal(found.url, 'https://example.com/.well-known/oauth-authorization-server/issuer1')
    assert.equal(found.metadata.jwks_uri, 'https://example.com/jwks')
    assert.equal(asked.length, 1)
  })

  test('falls through 404, an unreachable URL and non-JSON to the OIDC path-appending form', async () => {
    const { fetch, asked } = tableFetch({
      'https://example.com/.well-known/openid-configuration/issuer1': new Response('<html>', { status: 200 }),
      'https://example.com/issuer1/.well-known/openid-configuration': json({ issuer: ISSUER, jwks_uri: 'https://example.com/k' }),
    })
    const found = await discoverAuthorizationServer(ISSUER, { timeoutMs: 1000, fetch })
    assert.equal(found.url, 'https://example.com/issuer1/.well-known/openid-configuration')
    assert.deepEqual(asked, discoveryUrls(ISSUER))
  })

  test('an issuer that differs from the configured one is refused, without trying further (RFC 8414 §3.3)', async () => {
    const { fetch, asked } = tableFetch({
      'https://example.com/.well-known/oauth-authorization-server/issuer1': json({ issuer: `${ISSUER}/`, jwks_uri: 'https://evil/jwks' }),
      'https://example.com/issuer1/.well-known/openid-configuration': json({ issuer: ISSUER, jwks_uri: 'https://example.com/k' }),
    })
    await assert.rejects(discoverAuthorizationServer(ISSUER, { timeoutMs: 1000, fetch }), (error: unknown) => {
      assert.ok(error instanceof DiscoveryError)
      assert.equal(
        error.message,
        'the metadata at https://example.com/.well-known/oauth-authorization-server/issuer1 names issuer ' +
          '"https://example.com/issuer1/", not "https://example.com/issuer1" (RFC 8414 §3.3 requires them to be identical)',
      )
      assert.deepEqual(error.attempts.at(-1), {
        url: 'https://example.com/.well-known/oauth-authorization-server/issuer1',
        outcome: 'issuer mismatch',
      })
      return true
    })
    assert.equal(asked.length, 1)
  })

  test('nothing found: every attempt listed', async () => {
    const { fetch } = tableFetch({
      // fetch wraps the socket error as its cause; the code is what an operator needs.
      'https://example.com/.well-known/oauth-authorization-server/issuer1': new TypeError('fetch failed', {
        cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      }),
      'https://example.com/.well-known/openid-configuration/issuer1': new Response('', { status: 500 }),
      'https://example.com/issuer1/.well-known/openid-configuration': new DOMException('timed out', 'TimeoutError'),
    })
    await assert.rejects(discoverAuthorizationServer(ISSUER, { timeoutMs: 1000, fetch }), (error: unknown) => {
      assert.ok(error instanceof DiscoveryError)
      assert.equal(error.message, 'no discovery document found for https://example.com/issuer1')
      assert.deepEqual(error.attempts, [
        { url: 'https://example.com/.well-known/oauth-authorization-server/issuer1', outcome: 'unreachable (ECONNREFUSED)' },
        { url: 'https://example.com/.well-known/openid-configuration/issuer1', outcome: 'HTTP 500' },
        { url: 'https://example.com/issuer1/.well-known/openid-configuration', outcome: 'unreachable (timeout)' },
      ])
      return true
    })
  })
})
