import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose'
import { startDemoAuthorizationServer } from '../../src/demo/authorization-server.js'
import type { DemoAuthorizationServer } from '../../src/demo/authorization-server.js'

const RESOURCE = 'http://127.0.0.1:8080/mcp'
const SCOPES = ['mcp:tools', 'mcp:admin']
const REDIRECT = 'http://127.0.0.1:33418/callback'

type Json = Record<string, unknown>

function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`
}

async function tokenRequest(as: DemoAuthorizationServer, form: Record<string, string>, headers: Record<string, string> = {}): Promise<{ status: number; body: Json; res: Response }> {
  const res = await fetch(as.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form),
  })
  return { status: res.status, body: (await res.json()) as Json, res }
}

async function register(as: DemoAuthorizationServer, meta: Json): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${as.url}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(meta),
  })
  return { status: res.status, body: (await res.json()) as Json }
}

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

async function authorize(as: DemoAuthorizationServer, query: Record<string, string>): Promise<URL> {
  const url = new URL(`${as.url}/authorize`)
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v)
  const res = await fetch(url, { redirect: 'manual' })
  assert.equal(res.status, 302, await res.text())
  return new URL(res.headers.get('location') ?? '')
}

describe('demo authorization server', () => {
  let as: DemoAuthorizationServer
  before(async () => {
    as = await startDemoAuthorizationServer({ port: 0, resource: RESOURCE, scopes: SCOPES })
  })
  after(async () => {
    await as.close()
  })

  test('RFC 8414 metadata at both well-known paths', async () => {
    assert.match(as.issuer, /^http:\/\/127\.0\.0\.1:\d+$/)
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      const res = await fetch(`${as.url}${path}`)
      assert.equal(res.status, 200)
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
      const m = (await res.json()) as Json
      assert.equal(m['issuer'], as.issuer)
      assert.equal(m['jwks_uri'], `${as.issuer}/jwks`)
      assert.equal(m['token_endpoint'], `${as.issuer}/token`)
      assert.equal(m['authorization_endpoint'], `${as.issuer}/authorize`)
      assert.equal(m['registration_endpoint'], `${as.issuer}/register`)
      assert.deepEqual(m['code_challenge_methods_supported'], ['S256'])
      assert.deepEqual(m['response_types_supported'], ['code'])
      assert.deepEqual(m['scopes_supported'], SCOPES)
      assert.deepEqual(m['grant_types_supported'], ['authorization_code', 'client_credentials'])
      assert.ok((m['token_endpoint_auth_methods_supported'] as string[]).includes('client_secret_basic'))
    }
  })

  test('client_credentials (basic auth) issues an at+jwt verifiable against /jwks', async () => {
    const { status, body, res } = await tokenRequest(
      as,
      { grant_type: 'client_credentials', resource: RESOURCE, scope: 'mcp:tools' },
      { authorization: basic('demo-client', 'demo-secret') },
    )
    assert.equal(status, 200)
    assert.equal(res.headers.get('cache-control'), 'no-store')
    assert.equal(body['token_type'], 'Bearer')
    assert.equal(body['expires_in'], 900)
    assert.equal(body['scope'], 'mcp:tools')
    const token = body['access_token'] as string

    const header = decodeProtectedHeader(token)
    assert.equal(header.alg, 'RS256')
    assert.equal(header.typ, 'at+jwt')
    assert.equal(typeof header.kid, 'string')

    const jwks = createRemoteJWKSet(new URL(as.jwksUri))
    const { payload } = await jwtVerify(token, jwks, { issuer: as.issuer, audience: RESOURCE, typ: 'at+jwt', algorithms: ['RS256'] })
    assert.equal(payload.sub, 'demo-client')
    assert.equal(payload['client_id'], 'demo-client')
    assert.equal(payload['scope'], 'mcp:tools')
    assert.equal(typeof payload.jti, 'string')
    assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 900)
  })

  test('client_secret_post works; default scope is every configured scope; unknown scopes are dropped', async () => {
    const all = await tokenRequest(as, { grant_type: 'client_credentials', client_id: 'demo-client', client_secret: 'demo-secret', resource: RESOURCE })
    assert.equal(all.status, 200)
    assert.equal(all.body['scope'], 'mcp:tools mcp:admin')

    const narrowed = await tokenRequest(as, { grant_type: 'client_credentials', client_id: 'demo-client', client_secret: 'demo-secret', scope: 'mcp:admin other' })
    assert.equal(narrowed.status, 200)
    assert.equal(narrowed.body['scope'], 'mcp:admin')

    const none = await tokenRequest(as, { grant_type: 'client_credentials', client_id: 'demo-client', client_secret: 'demo-secret', scope: 'other' })
    assert.equal(none.status, 400)
    assert.equal(none.body['error'], 'invalid_scope')
  })

  test('wrong secret is 401 invalid_client', async () => {
    const viaBasic = await tokenRequest(as, { grant_type: 'client_credentials', resource: RESOURCE }, { authorization: basic('demo-client', 'nope') })
    assert.equal(viaBasic.status, 401)
    assert.equal(viaBasic.body['error'], 'invalid_client')
    assert.match(viaBasic.res.headers.get('www-authenticate') ?? '', /^Basic /)

    const viaPost = await tokenRequest(as, { grant_type: 'client_credentials', client_id: 'demo-client', client_secret: 'nope' })
    assert.equal(viaPost.status, 401)
    assert.equal(viaPost.body['error'], 'invalid_client')

    const unknown = await tokenRequest(as, { grant_type: 'client_credentials', client_id: 'who', client_secret: 'demo-secret' })
    assert.equal(unknown.status, 401)
  })

  test('a resource other than the configured one is invalid_target', async () => {
    const auth = { authorization: basic('demo-client', 'demo-secret') }
    for (const resource of ['http://127.0.0.1:8080/mcp/', 'https://evil.example/mcp']) {
      const { status, body } = await tokenRequest(as, { grant_type: 'client_credentials', resource }, auth)
      assert.equal(status, 400)
      assert.equal(body['error'], 'invalid_target')
      assert.equal(typeof body['error_description'], 'string')
    }
  })

  test('RFC 6749 §5.2 errors for malformed requests', async () => {
    const auth = { authorization: basic('demo-client', 'demo-secret') }
    assert.equal((await tokenRequest(as, {}, auth)).body['error'], 'invalid_request')
    assert.equal((await tokenRequest(as, { grant_type: 'password' }, auth)).body['error'], 'unsupported_grant_type')
    const res = await fetch(as.tokenEndpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    assert.equal(res.status, 400)
    assert.equal(((await res.json()) as Json)['error'], 'invalid_request')
    const dup = await fetch(as.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth },
      body: 'grant_type=client_credentials&scope=mcp:tools&scope=mcp:admin',
    })
    assert.equal(((await dup.json()) as Json)['error'], 'invalid_request')
  })

  test('mintToken signs directly with the given scope and subject', async () => {
    const token = await as.mintToken({ scope: 'mcp:other', sub: 'alice' })
    const { payload, protectedHeader } = await jwtVerify(token, createRemoteJWKSet(new URL(as.jwksUri)), { issuer: as.issuer, audience: RESOURCE })
    assert.equal(protectedHeader.typ, 'at+jwt')
    assert.equal(payload.sub, 'alice')
    assert.equal(payload['scope'], 'mcp:other')
    const defaults = await jwtVerify(await as.mintToken(), createRemoteJWKSet(new URL(as.jwksUri)))
    assert.equal(defaults.payload['scope'], 'mcp:tools mcp:admin')
  })

  test('dynamic client registration for public clients', async () => {
    const ok = await register(as, { redirect_uris: [REDIRECT], client_name: 'test', token_endpoint_auth_method: 'none' })
    assert.equal(ok.status, 201)
    assert.equal(typeof ok.body['client_id'], 'string')
    assert.equal(ok.body['token_endpoint_auth_method'], 'none')
    assert.deepEqual(ok.body['redirect_uris'], [REDIRECT])
    assert.equal(ok.body['client_name'], 'test')
    assert.equal(ok.body['client_secret'], undefined)

    const noRedirect = await register(as, { client_name: 'x' })
    assert.equal(noRedirect.status, 400)
    assert.equal(noRedirect.body['error'], 'invalid_redirect_uri')
    const httpRemote = await register(as, { redirect_uris: ['http://evil.example/cb'] })
    assert.equal(httpRemote.body['error'], 'invalid_redirect_uri')
    const notJson = await fetch(`${as.url}/register`, { method: 'POST', body: 'x' })
    assert.equal(((await notJson.json()) as Json)['error'], 'invalid_client_metadata')
  })

  test('PKCE code flow: wrong verifier refused, right one works, code is single use', async () => {
    const { body: client } = await register(as, { redirect_uris: [REDIRECT] })
    const clientId = client['client_id'] as string
    const { verifier, challenge } = pkce()
    const query = {
      response_type: 'code',
      client_id: clientId,
      redirect_uri: REDIRECT,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'st-1',
      scope: 'mcp:tools',
      resource: RESOURCE,
    }

    // A wrong verifier burns the code (single use), so get a fresh one for the right verifier.
    const first = await authorize(as, query)
    assert.equal(`${first.origin}${first.pathname}`, REDIRECT)
    assert.equal(first.searchParams.get('state'), 'st-1')
    assert.equal(first.searchParams.get('iss'), as.issuer)
    const wrong = await tokenRequest(as, {
      grant_type: 'authorization_code',
      client_id: clientId,
      code: first.searchParams.get('code') ?? '',
      redirect_uri: REDIRECT,
      code_verifier: pkce().verifier,
      resource: RESOURCE,
    })
    assert.equal(wrong.status, 400)
    assert.equal(wrong.body['error'], 'invalid_grant')

    const second = await authorize(as, query)
    const code = second.searchParams.get('code') ?? ''
    const form = { grant_type: 'authorization_code', client_id: clientId, code, redirect_uri: REDIRECT, code_verifier: verifier, resource: RESOURCE }
    const right = await tokenRequest(as, form)
    assert.equal(right.status, 200, JSON.stringify(right.body))
    assert.equal(right.body['scope'], 'mcp:tools')
    const { payload } = await jwtVerify(right.body['access_token'] as string, createRemoteJWKSet(new URL(as.jwksUri)), { issuer: as.issuer, audience: RESOURCE })
    assert.equal(payload['client_id'], clientId)
    assert.equal(payload.sub, 'demo-user')

    const replay = await tokenRequest(as, form)
    assert.equal(replay.body['error'], 'invalid_grant')

    const missing = await tokenRequest(as, { ...form, code: (await authorize(as, query)).searchParams.get('code') ?? '', code_verifier: '' })
    assert.equal(missing.body['error'], 'invalid_request')
  })

  test('authorize errors: redirected when the redirect URI is trusted, answered directly otherwise', async () => {
    const { body: client } = await register(as, { redirect_uris: [REDIRECT] })
    const clientId = client['client_id'] as string
    const { challenge } = pkce()
    const base = { response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', state: 's' }

    const wrongResource = await authorize(as, { ...base, resource: 'https://other.example/mcp' })
    assert.equal(wrongResource.searchParams.get('error'), 'invalid_target')
    assert.equal(wrongResource.searchParams.get('state'), 's')

    const plain = await authorize(as, { ...base, code_challenge_method: 'plain' })
    assert.equal(plain.searchParams.get('error'), 'invalid_request')

    const noPkce = await authorize(as, { ...base, code_challenge: '' })
    assert.equal(noPkce.searchParams.get('error'), 'invalid_request')

    const badRedirect = await fetch(`${as.url}/authorize?${new URLSearchParams({ ...base, redirect_uri: 'http://127.0.0.1:1/evil' })}`, { redirect: 'manual' })
    assert.equal(badRedirect.status, 400)
    assert.equal(((await badRedirect.json()) as Json)['error'], 'invalid_request')

    const unknownClient = await fetch(`${as.url}/authorize?${new URLSearchParams({ ...base, client_id: 'nobody' })}`, { redirect: 'manual' })
    assert.equal(unknownClient.status, 400)
    await unknownClient.arrayBuffer()
  })

  test('a public client cannot use client_credentials; demo-client cannot use the code flow', async () => {
    const { body: client } = await register(as, { redirect_uris: [REDIRECT] })
    const pub = await tokenRequest(as, { grant_type: 'client_credentials', client_id: client['client_id'] as string })
    assert.equal(pub.body['error'], 'unauthorized_client')
    const code = await tokenRequest(as, { grant_type: 'authorization_code', code: 'x', code_verifier: pkce().verifier }, { authorization: basic('demo-client', 'demo-secret') })
    assert.equal(code.body['error'], 'unauthorized_client')
  })
})
