import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { listen } from '../server/listen.js'
import { SignJWT, exportJWK, generateKeyPair } from 'jose'
import type { JWK } from 'jose'
import { isTooLarge, readBody } from '../server/read-body.js'

/**
 * A deliberately small OAuth 2.1 authorization server for the demo and the tests. It is NOT a
 * real identity provider: `/authorize` approves every request without a login page, clients,
 * codes and the signing key live in memory, and everything is lost on restart. What it does do
 * is follow the wire rules a resource server and an MCP client depend on: RFC 8414 metadata,
 * a JWKS, RFC 9068 access tokens bound to one resource (RFC 8707), PKCE S256, RFC 7591
 * registration, RFC 9207 `iss` on the redirect and RFC 6749 §5.2 error bodies.
 */

export interface DemoAuthorizationServerOptions {
  host?: string
  port?: number
  /** The only resource (RFC 8707) tokens are issued for; it becomes their `aud`. */
  resource: string
  /** Scopes this server grants; requests are narrowed to these. */
  scopes: string[]
}

export interface MintTokenOptions {
  /** Space-separated; defaults to every configured scope. Not narrowed: tests may mint any scope. */
  scope?: string
  sub?: string
  /** Defaults to the configured resource. */
  aud?: string | string[]
  /** Lifetime in seconds; defaults to 15 minutes. */
  expiresIn?: number
}

export interface DemoAuthorizationServer {
  /** The issuer identifier, exactly as the metadata publishes it (no trailing slash). */
  issuer: string
  /** Base URL; equal to `issuer`. */
  url: string
  jwksUri: string
  tokenEndpoint: string
  close(): Promise<void>
  /** Signs an access token directly, skipping the token endpoint. */
  mintToken(options?: MintTokenOptions): Promise<string>
}

export const DEMO_CLIENT_ID = 'demo-client'
export const DEMO_CLIENT_SECRET = 'demo-secret'

const TOKEN_LIFETIME_S = 15 * 60
const CODE_LIFETIME_MS = 60_000
const BODY_LIMIT = 64 * 1024
// Open registration on a demo server: cap it so a loop cannot grow memory without bound.
const MAX_REGISTERED_CLIENTS = 1000

interface Client {
  id: string
  /** undefined for a public client (token_endpoint_auth_method "none"). */
  secret: string | undefined
  redirectUris: string[]
  grantTypes: string[]
}

interface PendingCode {
  clientId: string
  redirectUri: string
  challenge: string
  scope: string
  resource: string
  expiresAt: number
}

/** An RFC 6749 §5.2 (or RFC 7591 §3.2.2) error, answered as JSON. */
class OAuthError extends Error {
  constructor(
    readonly code: string,
    readonly description: string,
    readonly status = 400,
    readonly headers: Record<string, string> = {},
  ) {
    super(description)
  }
}

function sha256Base64url(input: string): string {
  return createHash('sha256').update(input).digest('base64url')
}

/** Constant-time string comparison that does not leak the length through an early return. */
function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest())
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const json = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(json),
    ...headers,
  })
  res.end(json)
}

// Browser-based MCP clients (e.g. the MCP Inspector) call these endpoints cross-origin.
const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-allow-headers': 'authorization, content-type, mcp-protocol-version',
}
const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' }

/** RFC 6749 §3.1/§3.2: parameters must not repeat (except RFC 8707 `resource`). */
function single(params: URLSearchParams, name: string): string | undefined {
  const all = params.getAll(name)
  if (all.length > 1) throw new OAuthError('invalid_request', `parameter ${name} repeated`)
  return all[0] === '' ? undefined : all[0]
}

function isValidRedirectUri(uri: unknown): uri is string {
  if (typeof uri !== 'string') return false
  try {
    const u = new URL(uri)
    // RFC 6749 §3.1.2: absolute, no fragment. Plain http is allowed only for loopback (OAuth 2.1
    // §7.5.1 / RFC 8252 §7.3); custom schemes are allowed for native apps.
    if (u.hash !== '') return false
    if (u.protocol === 'http:') return ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)
    return u.protocol !== 'javascript:' && u.protocol !== 'data:'
  } catch {
    return false
  }
}

/** Starts the demo authorization server on `host:port` (default 127.0.0.1, a random port). */
export async function startDemoAuthorizationServer(
  options: DemoAuthorizationServerOptions,
): Promise<DemoAuthorizationServer> {
  const host = options.host ?? '127.0.0.1'
  const resource = options.resource
  const configuredScopes = [...options.scopes]
  const allScopes = configuredScopes.join(' ')

  const { privateKey, publicKey } = await generateKeyPair('RS256')
  const kid = randomBytes(12).toString('base64url')
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }
  const signingKey = privateKey

  const clients = new Map<string, Client>([
    [DEMO_CLIENT_ID, { id: DEMO_CLIENT_ID, secret: DEMO_CLIENT_SECRET, redirectUris: [], grantTypes: ['client_credentials'] }],
  ])
  const codes = new Map<string, PendingCode>()

  // Filled in once the port is known.
  let issuer = ''

  async function sign(claims: { sub: string; clientId: string; scope: string; aud: string | string[]; expiresIn: number }): Promise<string> {
    const now = Math.floor(Date.now() / 1000)
    // RFC 9068 §2: typ "at+jwt", and the claims iss, exp, aud, sub, client_id, iat, jti.
    return new SignJWT({ client_id: claims.clientId, scope: claims.scope })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid })
      .setIssuer(issuer)
      .setSubject(claims.sub)
      .setAudience(claims.aud)
      .setIssuedAt(now)
      .setExpirationTime(now + claims.expiresIn)
      .setJti(randomUUID())
      .sign(signingKey)
  }

  function metadata(): Record<string, unknown> {
    return {
      issuer,
      authorization_endpoint: `${issuer}/authorize`,
      token_endpoint: `${issuer}/token`,
      registration_endpoint: `${issuer}/register`,
      jwks_uri: `${issuer}/jwks`,
      scopes_supported: configuredScopes,
      response_types_supported: ['code'],
      response_modes_supported: ['query'],
      grant_types_supported: ['authorization_code', 'client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
      code_challenge_methods_supported: ['S256'],
      authorization_response_iss_parameter_supported: true,
    }
  }

  /** RFC 8707 §2: one resource, and it must be ours; absent means ours (a demo convenience). */
  function checkResource(params: URLSearchParams): string {
    const asked = params.getAll('resource')
    if (asked.length === 0) return resource
    if (asked.length > 1 || asked[0] !== resource) {
      throw new OAuthError('invalid_target', 'this server issues tokens only for its configured resource')
    }
    return resource
  }

  /** Requested ∩ configured; no request means all configured scopes. */
  function narrowScope(requested: string | undefined): string {
    if (requested === undefined) return allScopes
    const granted = requested.split(' ').filter((s) => s !== '' && configuredScopes.includes(s))
    if (granted.length === 0) throw new OAuthError('invalid_scope', 'none of the requested scopes is available')
    return [...new Set(granted)].join(' ')
  }

  /** RFC 6749 §2.3.1: HTTP Basic (preferred) or client_secret_post, never both. */
  function authenticateClient(req: IncomingMessage, params: URLSearchParams): Client {
    const header = req.headers.authorization
    let id: string | undefined
    let secret: string | undefined
    const viaBasic = header !== undefined && /^basic /i.test(header)
    if (viaBasic) {
      if (params.has('client_secret')) throw new OAuthError('invalid_request', 'use one client authentication method')
      const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8')
      const colon = decoded.indexOf(':')
      if (colon === -1) throw new OAuthError('invalid_client', 'malformed basic credentials', 401, { 'www-authenticate': 'Basic realm="demo"' })
      try {
        // Basic credentials are form-urlencoded before base64 (RFC 6749 §2.3.1).
        id = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '))
        secret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '))
      } catch {
        throw new OAuthError('invalid_client', 'malformed basic credentials', 401, { 'www-authenticate': 'Basic realm="demo"' })
      }
      const bodyId = single(params, 'client_id')
      if (bodyId !== undefined && bodyId !== id) throw new OAuthError('invalid_request', 'client_id does not match the credentials')
    } else {
      id = single(params, 'client_id')
      secret = single(params, 'client_secret')
    }
    // §5.2: 401 for a failed authentication; WWW-Authenticate when the client used the header.
    const fail = (): OAuthError =>
      new OAuthError('invalid_client', 'client authentication failed', 401, viaBasic ? { 'www-authenticate': 'Basic realm="demo"' } : {})
    if (id === undefined) throw fail()
    const client = clients.get(id)
    if (client === undefined) throw fail()
    if (client.secret === undefined) {
      if (secret !== undefined) throw fail()
    } else if (secret === undefined || !safeEqual(secret, client.secret)) {
      throw fail()
    }
    return client
  }

  async function token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const type = req.headers['content-type'] ?? ''
    if (!type.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
      throw new OAuthError('invalid_request', 'the body must be application/x-www-form-urlencoded')
    }
    const params = new URLSearchParams((await readBody(req, BODY_LIMIT)).toString('utf8'))
    const grantType = single(params, 'grant_type')
    if (grantType === undefined) throw new OAuthError('invalid_request', 'grant_type is required')
    if (grantType !== 'client_credentials' && grantType !== 'authorization_code') {
      throw new OAuthError('unsupported_grant_type', 'only authorization_code and client_credentials are supported')
    }
    const client = authenticateClient(req, params)
    if (!client.grantTypes.includes(grantType)) {
      throw new OAuthError('unauthorized_client', 'this client may not use this grant type')
    }

    if (grantType === 'client_credentials') {
      const aud = checkResource(params)
      const scope = narrowScope(single(params, 'scope'))
      // RFC 9068 §2.2: with no resource owner, `sub` identifies the client itself.
      return issue(res, { sub: client.id, clientId: client.id, scope, aud })
    }

    const code = single(params, 'code')
    const verifier = single(params, 'code_verifier')
    const redirectUri = single(params, 'redirect_uri')
    if (code === undefined) throw new OAuthError('invalid_request', 'code is required')
    if (verifier === undefined) throw new OAuthError('invalid_request', 'code_verifier is required (PKCE)')
    const pending = codes.get(code)
    // Codes are single use (OAuth 2.1 §4.1.3): consumed before any other check.
    codes.delete(code)
    if (pending === undefined || pending.expiresAt < Date.now() || pending.clientId !== client.id) {
      throw new OAuthError('invalid_grant', 'the code is unknown, expired or was issued to another client')
    }
    if (redirectUri !== undefined && redirectUri !== pending.redirectUri) {
      throw new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request')
    }
    // RFC 7636 §4.6: BASE64URL(SHA256(verifier)) must equal the stored challenge.
    if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) || !safeEqual(sha256Base64url(verifier), pending.challenge)) {
      throw new OAuthError('invalid_grant', 'code_verifier does not match the code_challenge')
    }
    // RFC 8707 §2.2: a resource on the token request must be one granted at /authorize.
    const asked = params.getAll('resource')
    if (asked.length > 1 || (asked.length === 1 && asked[0] !== pending.resource)) {
      throw new OAuthError('invalid_target', 'resource does not match the authorization request')
    }
    return issue(res, { sub: 'demo-user', clientId: client.id, scope: pending.scope, aud: pending.resource })
  }

  async function issue(res: ServerResponse, claims: { sub: string; clientId: string; scope: string; aud: string }): Promise<void> {
    const accessToken = await sign({ ...claims, expiresIn: TOKEN_LIFETIME_S })
    sendJson(
      res,
      200,
      { access_token: accessToken, token_type: 'Bearer', expires_in: TOKEN_LIFETIME_S, scope: claims.scope },
      { ...NO_STORE, ...CORS },
    )
  }

  /**
   * Demo only: approves at once, with no login and no consent screen, and redirects straight
   * back. A real authorization server authenticates the user here.
   */
  function authorize(url: URL, res: ServerResponse): void {
    const params = url.searchParams
    const clientId = single(params, 'client_id')
    const client = clientId === undefined ? undefined : clients.get(clientId)
    if (client === undefined) throw new OAuthError('invalid_request', 'unknown client_id')
    const redirectUri = single(params, 'redirect_uri') ?? (client.redirectUris.length === 1 ? client.redirectUris[0] : undefined)
    // RFC 6749 §4.1.2.1: with a bad client or redirect URI, never redirect; answer here.
    if (redirectUri === undefined || !client.redirectUris.includes(redirectUri)) {
      throw new OAuthError('invalid_request', 'redirect_uri is missing or not registered for this client')
    }
    const state = single(params, 'state')
    const back = (query: Record<string, string>): void => {
      const target = new URL(redirectUri)
      for (const [k, v] of Object.entries(query)) target.searchParams.set(k, v)
      if (state !== undefined) target.searchParams.set('state', state)
      target.searchParams.set('iss', issuer) // RFC 9207
      res.writeHead(302, { location: target.toString(), ...NO_STORE }).end()
    }
    try {
      if (single(params, 'response_type') !== 'code') {
        throw new OAuthError('unsupported_response_type', 'only response_type=code is supported')
      }
      if (!client.grantTypes.includes('authorization_code')) {
        throw new OAuthError('unauthorized_client', 'this client may not use the authorization code grant')
      }
      const challenge = single(params, 'code_challenge')
      // OAuth 2.1 §4.1.1 and MCP authorization: PKCE is required, and S256 is the only method.
      if (challenge === undefined || !/^[A-Za-z0-9_-]{43}$/.test(challenge)) {
        throw new OAuthError('invalid_request', 'a S256 code_challenge is required')
      }
      if (single(params, 'code_challenge_method') !== 'S256') {
        throw new OAuthError('invalid_request', 'code_challenge_method must be S256')
      }
      const aud = checkResource(params)
      const scope = narrowScope(single(params, 'scope'))
      const code = randomBytes(32).toString('base64url')
      const now = Date.now()
      // Drop expired codes as we go, so abandoned flows do not accumulate.
      for (const [k, v] of codes) if (v.expiresAt < now) codes.delete(k)
      codes.set(code, { clientId: client.id, redirectUri, challenge, scope, resource: aud, expiresAt: now + CODE_LIFETIME_MS })
      back({ code })
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err
      back({ error: err.code, error_description: err.description })
    }
  }

  /** RFC 7591 open registration, for public clients only (token_endpoint_auth_method "none"). */
  async function register(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body: unknown
    try {
      body = JSON.parse((await readBody(req, BODY_LIMIT)).toString('utf8'))
    } catch (err) {
      if (isTooLarge(err)) throw err
      throw new OAuthError('invalid_client_metadata', 'the body must be a JSON object')
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new OAuthError('invalid_client_metadata', 'the body must be a JSON object')
    }
    const meta = body as Record<string, unknown>
    const redirectUris = meta['redirect_uris']
    if (!Array.isArray(redirectUris) || redirectUris.length === 0 || !redirectUris.every(isValidRedirectUri)) {
      throw new OAuthError('invalid_redirect_uri', 'redirect_uris must be a non-empty list of absolute URIs (http only on loopback)')
    }
    const grantTypes = meta['grant_types'] ?? ['authorization_code']
    if (!Array.isArray(grantTypes) || !grantTypes.every((g) => g === 'authorization_code' || g === 'refresh_token')) {
      throw new OAuthError('invalid_client_metadata', 'public clients may use only authorization_code')
    }
    if (clients.size >= MAX_REGISTERED_CLIENTS) {
      throw new OAuthError('invalid_client_metadata', 'too many clients registered on this demo server')
    }
    const client: Client = { id: randomUUID(), secret: undefined, redirectUris: [...redirectUris], grantTypes: ['authorization_code'] }
    clients.set(client.id, client)
    // RFC 7591 §3.2.1: echo the registered metadata, including values the server chose. Whatever
    // auth method was asked for, this server registers a public client.
    sendJson(
      res,
      201,
      {
        ...meta,
        client_id: client.id,
        client_id_issued_at: Math.floor(Date.now() / 1000),
        redirect_uris: client.redirectUris,
        grant_types: client.grantTypes,
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      },
      { ...NO_STORE, ...CORS },
    )
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', issuer)
    const method = req.method ?? 'GET'
    if (method === 'OPTIONS') {
      res.writeHead(204, { ...CORS, 'access-control-max-age': '600' }).end()
      return
    }
    switch (url.pathname) {
      case '/.well-known/oauth-authorization-server':
      case '/.well-known/openid-configuration':
        if (method !== 'GET' && method !== 'HEAD') break
        return sendJson(res, 200, metadata(), CORS)
      case '/jwks':
        if (method !== 'GET' && method !== 'HEAD') break
        return sendJson(res, 200, { keys: [publicJwk] }, CORS)
      case '/token':
        if (method !== 'POST') break
        return token(req, res)
      case '/authorize':
        if (method !== 'GET') break
        return authorize(url, res)
      case '/register':
        if (method !== 'POST') break
        return register(req, res)
      default:
        return sendJson(res, 404, { error: 'not_found' })
    }
    res.writeHead(405, { 'content-type': 'text/plain' }).end('method not allowed\n')
  }

  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy()
      } else if (err instanceof OAuthError) {
        sendJson(res, err.status, { error: err.code, error_description: err.description }, { ...NO_STORE, ...CORS, ...err.headers })
      } else if (isTooLarge(err)) {
        sendJson(res, 413, { error: 'invalid_request', error_description: 'request body too large' }, { connection: 'close' })
      } else {
        sendJson(res, 500, { error: 'server_error', error_description: 'internal error' }, NO_STORE)
      }
    })
  })

  const bound = await listen(server, options.port ?? 0, host)
  issuer = `http://${bound.host}:${bound.port}`

  return {
    issuer,
    url: issuer,
    jwksUri: `${issuer}/jwks`,
    tokenEndpoint: `${issuer}/token`,
    mintToken: (opts = {}) =>
      sign({
        sub: opts.sub ?? 'demo-user',
        clientId: DEMO_CLIENT_ID,
        scope: opts.scope ?? allScopes,
        aud: opts.aud ?? resource,
        expiresIn: opts.expiresIn ?? TOKEN_LIFETIME_S,
      }),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()))
        server.closeAllConnections()
      }),
  }
}
