import './silence-oidc-notices.js'
import { randomBytes, randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { exportJWK, generateKeyPair } from 'jose'
import type { JWK } from 'jose'
import Provider, { errors } from 'oidc-provider'
import type { InteractionDetails } from 'oidc-provider'
import { createMemoryAdapter } from 'oidc-provider/lib/adapters/memory_adapter.js'
import { closeServer, listenOnLoopback } from './listen.js'
import { JWT_BEARER, TOKEN_EXCHANGE, exchangeTokenClaims, registerExchangeGrants } from './exchange-grants.js'
import type { ExchangeGrantOptions, ExchangeLedger } from './exchange-grants.js'

export interface ResourceOptions {
  /** Space-separated scopes the AS may grant for this resource. */
  scope: string
  /** `opaque` tokens can be introspected; `jwt` tokens cannot (oidc-provider refuses). */
  format: 'jwt' | 'opaque'
  ttlSeconds?: number
  alg?: 'RS256' | 'ES256'
  /** Overrides `aud`; by default it is the resource URI exactly. */
  audience?: string
}

export interface AuthorizationServerOptions {
  resources: Record<string, ResourceOptions>
  /**
   * When true, every client allowed the refresh_token grant gets a refresh token (needed to
   * reproduce the SDK v1 step-up dead end). Otherwise oidc-provider's default applies: only
   * with `offline_access`.
   */
  refreshTokens?: boolean
  /** The account the headless login signs in as. */
  accountId?: string
  /** More static clients, as oidc-provider client metadata. */
  extraClients?: Array<Record<string, unknown>>
  /** oidc-provider's DPoP feature: a token request with a `DPoP` proof gets a `cnf.jkt`-bound token (RFC 9449 §5). */
  dpop?: boolean
  /**
   * oidc-provider's certificate-bound tokens (RFC 8705 §3) for the `mtls-m2m` client. This AS
   * speaks plain HTTP, so the test hands the client certificate over in `x-test-client-certificate`
   * (URL-encoded PEM), as a TLS-terminating proxy would.
   */
  mtls?: boolean
  /**
   * Adds the RFC 8693 token-exchange and the On-Behalf-Of (jwt-bearer) grants, allowed to the
   * `gateway` client (exchange-grants.ts).
   */
  exchange?: ExchangeGrantOptions
}

export interface UserTokenRequest {
  /** The user (`sub`). */
  accountId: string
  resource: string
  scope: string
  /** The client the token was issued to (`client_id`). Default `m2m`. */
  clientId?: string
  ttlSeconds?: number
}

export interface ClientCredentialsRequest {
  resource?: string
  scope?: string
  clientId?: string
  clientSecret?: string
  /** More request headers: a `DPoP` proof, `x-test-client-certificate`. */
  headers?: Record<string, string>
}

export interface IntrospectionResult {
  active: boolean
  [claim: string]: unknown
}

export interface AuthorizationServer {
  /** The issuer exactly as the discovery document publishes it. */
  readonly issuer: string
  /** The origin, without a trailing slash (same as the issuer here). */
  readonly url: string
  readonly jwksUri: string
  readonly tokenEndpoint: string
  readonly introspectionEndpoint: string
  readonly revocationEndpoint: string
  readonly registrationEndpoint: string
  readonly accountId: string
  /** The current signing key ids, RS256 first then ES256. */
  readonly kids: readonly string[]
  clientCredentialsToken(request: ClientCredentialsRequest): Promise<string>
  /** A JWT access token for a user, as a login through the authorization code flow would give. */
  userToken(request: UserTokenRequest): Promise<string>
  /** What the exchange grants saw (with `exchange` on). */
  readonly exchanges: ExchangeLedger
  /** Introspects as the `gateway` client. */
  introspect(token: string): Promise<IntrospectionResult>
  /** Revokes as the `gateway` client; the test AS lets any confidential client revoke any token. */
  revoke(token: string): Promise<void>
  /**
   * Replaces the signing keys with new ones under new kids. With `keepOldKeys` the old public
   * keys stay in the JWKS (a graceful rotation) but still never sign.
   */
  rotateSigningKey(options?: { keepOldKeys?: boolean }): Promise<void>
  /** Requests received whose path starts with `pathPrefix` (note `/token` also counts `/token/...`). */
  requestCount(pathPrefix: string): number
  close(): Promise<void>
}

export const M2M_CLIENT = { clientId: 'm2m', clientSecret: 'm2m-secret' } as const
export const GATEWAY_CLIENT = { clientId: 'gateway', clientSecret: 'gateway-secret' } as const
/** With `mtls: true`: a client_credentials client whose tokens are bound to its certificate. */
export const MTLS_CLIENT = { clientId: 'mtls-m2m', clientSecret: 'mtls-m2m-secret' } as const

interface SigningKeys {
  rsa: JWK
  ec: JWK
}

async function generateSigningKeys(): Promise<SigningKeys> {
  const suffix = randomUUID().slice(0, 8)
  const rsaPair = await generateKeyPair('RS256', { extractable: true })
  const ecPair = await generateKeyPair('ES256', { extractable: true })
  const rsa = { ...(await exportJWK(rsaPair.privateKey)), kid: `rs-${suffix}`, alg: 'RS256', use: 'sig' }
  const ec = { ...(await exportJWK(ecPair.privateKey)), kid: `es-${suffix}`, alg: 'ES256', use: 'sig' }
  return { rsa, ec }
}

function basicAuth(clientId: string, clientSecret: string): string {
  const encoded = `${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`
  return `Basic ${Buffer.from(encoded).toString('base64')}`
}

function uniqueScopes(resources: Record<string, ResourceOptions>): string[] {
  const scopes = new Set<string>()
  for (const resource of Object.values(resources)) {
    for (const scope of resource.scope.split(' ')) if (scope !== '') scopes.add(scope)
  }
  return [...scopes]
}

function asStringArray(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : []
}

export async function startAuthorizationServer(options: AuthorizationServerOptions): Promise<AuthorizationServer> {
  const accountId = options.accountId ?? 'alice'
  const resourceScopes = uniqueScopes(options.resources)
  // Shared by every Provider built for this AS, so rotation keeps clients and opaque tokens.
  const adapter = createMemoryAdapter()
  const cookieKeys = [randomBytes(32).toString('hex')]
  const counts = new Map<string, number>()
  const exchanges: ExchangeLedger = { counts: new Map(), subjectTokens: [] }

  let keys = await generateSigningKeys()
  let retiredKeys: JWK[] = []
  let provider: Provider | undefined
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname
    counts.set(path, (counts.get(path) ?? 0) + 1)
    const current = provider
    if (current === undefined || handler === undefined) {
      res.statusCode = 503
      res.end()
      return
    }
    if (path.startsWith('/interaction/')) {
      handleInteraction(current, req, res).catch((error: unknown) => {
        if (!res.headersSent) res.statusCode = 500
        res.end(`interaction failed: ${String(error)}`)
      })
      return
    }
    handler(req, res)
  })
  const port = await listenOnLoopback(server)
  const url = `http://127.0.0.1:${port}`

  async function handleInteraction(current: Provider, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const details: InteractionDetails = await current.interactionDetails(req, res)
    if (details.prompt.name === 'login') {
      await current.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false })
      return
    }
    if (details.prompt.name !== 'consent') throw new Error(`unexpected prompt ${details.prompt.name}`)
    const clientId = String(details.params['client_id'])
    const existing = details.grantId === undefined ? undefined : await current.Grant.find(details.grantId)
    const grant = existing ?? new current.Grant({ accountId: details.session?.accountId ?? accountId, clientId })
    const missing = details.prompt.details
    const oidcScopes = asStringArray(missing['missingOIDCScope'])
    if (oidcScopes.length > 0) grant.addOIDCScope(oidcScopes.join(' '))
    const oidcClaims = asStringArray(missing['missingOIDCClaims'])
    if (oidcClaims.length > 0) grant.addOIDCClaims(oidcClaims)
    const resourceScopesMissing = missing['missingResourceScopes']
    if (typeof resourceScopesMissing === 'object' && resourceScopesMissing !== null) {
      for (const [resource, scopes] of Object.entries(resourceScopesMissing)) {
        grant.addResourceScope(resource, asStringArray(scopes).join(' '))
      }
    }
    const grantId = await grant.save()
    await current.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true })
  }

  function buildProvider(): Provider {
    const ttl = (fallback: number) => (_ctx: unknown, token: { resourceServer?: { accessTokenTTL?: number } }) =>
      token.resourceServer?.accessTokenTTL ?? fallback
    const configuration: Record<string, unknown> = {
      adapter,
      jwks: { keys: [keys.rsa, keys.ec, ...retiredKeys] },
      cookies: { keys: cookieKeys },
      clients: [
        {
          client_id: M2M_CLIENT.clientId,
          client_secret: M2M_CLIENT.clientSecret,
          grant_types: ['client_credentials'],
          redirect_uris: [],
          response_types: [],
          scope: resourceScopes.join(' '),
        },
        {
          client_id: GATEWAY_CLIENT.clientId,
          client_secret: GATEWAY_CLIENT.clientSecret,
          grant_types: options.exchange === undefined ? ['client_credentials'] : ['client_credentials', TOKEN_EXCHANGE, JWT_BEARER],
          redirect_uris: [],
          response_types: [],
        },
        ...(options.mtls === true
          ? [
              {
                client_id: MTLS_CLIENT.clientId,
                client_secret: MTLS_CLIENT.clientSecret,
                grant_types: ['client_credentials'],
                redirect_uris: [],
                response_types: [],
                scope: resourceScopes.join(' '),
                tls_client_certificate_bound_access_tokens: true,
              },
            ]
          : []),
        ...(options.extraClients ?? []),
      ],
      scopes: ['openid', 'offline_access', ...resourceScopes],
      pkce: { required: () => true },
      findAccount: async (_ctx: unknown, id: string) => ({ accountId: id, claims: async () => ({ sub: id }) }),
      interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
      clientBasedCORS: () => true,
      extraTokenClaims: async (_ctx: unknown, token: object) => exchangeTokenClaims(token),
      // oidc-provider pins a DCR client to the scope in its registration body, and the MCP SDK
      // registers with the first challenged scope only; unpinning lets step-up ask for more.
      extraClientMetadata: {
        properties: ['x-test-unpin-scope'],
        validator(ctx: unknown, _key: string, _value: unknown, metadata: Record<string, unknown>) {
          if (ctx !== undefined) delete metadata['scope']
        },
      },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        introspection: { enabled: true, allowedPolicy: async () => true },
        revocation: { enabled: true, allowedPolicy: async () => true },
        registration: { enabled: true },
        ...(options.dpop === true ? { dPoP: { enabled: true } } : {}),
        ...(options.mtls === true
          ? {
              mTLS: {
                enabled: true,
                certificateBoundAccessTokens: true,
                getCertificate: (ctx: { get(name: string): string }) => {
                  const value = ctx.get('x-test-client-certificate')
                  return value === '' ? undefined : decodeURIComponent(value)
                },
              },
            }
          : {}),
        resourceIndicators: {
          enabled: true,
          defaultResource: async (_ctx: unknown, _client: unknown, oneOf?: string) => oneOf,
          useGrantedResource: async () => true,
          getResourceServerInfo: async (_ctx: unknown, resourceIndicator: string) => {
            const resource = options.resources[resourceIndicator]
            if (resource === undefined) throw new errors.InvalidTarget()
            return {
              scope: resource.scope,
              accessTokenFormat: resource.format,
              accessTokenTTL: resource.ttlSeconds ?? 3600,
              ...(resource.audience === undefined ? {} : { audience: resource.audience }),
              ...(resource.format === 'jwt' ? { jwt: { sign: { alg: resource.alg ?? 'RS256' } } } : {}),
            }
          },
        },
      },
      ttl: {
        AccessToken: ttl(3600),
        ClientCredentials: ttl(600),
        Grant: 3600,
        IdToken: 3600,
        Interaction: 600,
        RefreshToken: 86400,
        Session: 3600,
      },
      ...(options.refreshTokens === true
        ? { issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed(grant: string): boolean }) => client.grantTypeAllowed('refresh_token') }
        : {}),
    }
    const built = new Provider(url, configuration)
    if (options.exchange !== undefined) {
      const publicKeys = () => [keys.rsa, keys.ec].map(({ d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub }) => pub)
      registerExchangeGrants(built, url, publicKeys, options.resources, options.exchange, exchanges)
    }
    return built
  }

  provider = buildProvider()
  handler = provider.callback()

  const discovery = (await (await fetch(`${url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>
  const endpoint = (name: string): string => {
    const value = discovery[name]
    if (typeof value !== 'string') throw new Error(`AS discovery lacks ${name}`)
    return value
  }
  const issuer = endpoint('issuer')
  const tokenEndpoint = endpoint('token_endpoint')
  const introspectionEndpoint = endpoint('introspection_endpoint')
  const revocationEndpoint = endpoint('revocation_endpoint')

  async function postForm(target: string, body: Record<string, string>, authorization: string, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(target, {
      method: 'POST',
      headers: { ...headers, authorization, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(body).toString(),
    })
  }

  return {
    issuer,
    url,
    jwksUri: endpoint('jwks_uri'),
    tokenEndpoint,
    introspectionEndpoint,
    revocationEndpoint,
    registrationEndpoint: endpoint('registration_endpoint'),
    accountId,
    get kids() {
      return [String(keys.rsa.kid), String(keys.ec.kid)]
    },
    async clientCredentialsToken(request) {
      const body: Record<string, string> = { grant_type: 'client_credentials' }
      if (request.resource !== undefined) body['resource'] = request.resource
      if (request.scope !== undefined) body['scope'] = request.scope
      const response = await postForm(
        tokenEndpoint,
        body,
        basicAuth(request.clientId ?? M2M_CLIENT.clientId, request.clientSecret ?? M2M_CLIENT.clientSecret),
        request.headers,
      )
      const text = await response.text()
      if (!response.ok) throw new Error(`client_credentials failed: ${response.status} ${text}`)
      const json = JSON.parse(text) as { access_token?: unknown }
      if (typeof json.access_token !== 'string') throw new Error(`no access_token in ${text}`)
      return json.access_token
    },
    exchanges,
    async userToken(request) {
      const current = provider as Provider & {
        AccessToken: new (init: Record<string, unknown>) => { resourceServer: unknown; save(): Promise<string> }
        ResourceServer: new (identifier: string, info: Record<string, unknown>) => unknown
        Client: { find(id: string): Promise<unknown> }
      }
      // A resource the AS was not started with (a second gateway) gets exactly the scope asked for.
      const resource = options.resources[request.resource] ?? { scope: request.scope, format: 'jwt' }
      const token = new current.AccessToken({
        accountId: request.accountId,
        client: await current.Client.find(request.clientId ?? M2M_CLIENT.clientId),
        gty: 'authorization_code',
        scope: request.scope,
      })
      token.resourceServer = new current.ResourceServer(request.resource, {
        scope: resource.scope,
        accessTokenFormat: 'jwt',
        accessTokenTTL: request.ttlSeconds ?? resource.ttlSeconds ?? 3600,
        jwt: { sign: { alg: resource.alg ?? 'RS256' } },
      })
      return token.save()
    },
    async introspect(token) {
      const response = await postForm(
        introspectionEndpoint,
        { token },
        basicAuth(GATEWAY_CLIENT.clientId, GATEWAY_CLIENT.clientSecret),
      )
      const text = await response.text()
      if (!response.ok) throw new Error(`introspection failed: ${response.status} ${text}`)
      return JSON.parse(text) as IntrospectionResult
    },
    async revoke(token) {
      const response = await postForm(
        revocationEndpoint,
        { token },
        basicAuth(GATEWAY_CLIENT.clientId, GATEWAY_CLIENT.clientSecret),
      )
      if (!response.ok) throw new Error(`revocation failed: ${response.status} ${await response.text()}`)
    },
    async rotateSigningKey(rotation = {}) {
      const previous = keys
      keys = await generateSigningKeys()
      // oidc-provider only accepts private keys in `jwks`; `key_ops: ['verify']` keeps a retired
      // key out of its signing selection while the JWKS still publishes it.
      const retire = (key: JWK): JWK => ({ ...key, key_ops: ['verify'] })
      retiredKeys = rotation.keepOldKeys === true ? [retire(previous.rsa), retire(previous.ec)] : []
      provider = buildProvider()
      handler = provider.callback()
    },
    requestCount(pathPrefix) {
      let total = 0
      for (const [path, count] of counts) if (path.startsWith(pathPrefix)) total += count
      return total
    },
    async close() {
      provider = undefined
      handler = undefined
      await closeServer(server)
    },
  }
}
