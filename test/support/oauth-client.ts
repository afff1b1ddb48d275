import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js'
import type { OAuthClientProvider, OAuthDiscoveryState } from '@modelcontextprotocol/sdk/client/auth.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { StreamableHTTPClientTransportOptions } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js'
import type { CallToolRequest, CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { decodeJwt } from 'jose'
import { CookieJar } from './cookie-jar.js'

// Login and consent take about five hops at oidc-provider; the cap stops a redirect loop.
const MAX_AUTHORIZATION_HOPS = 20
// Nothing listens here: the provider stops following redirects when it reaches this URL.
export const DEFAULT_REDIRECT_URL = 'http://127.0.0.1/oauth/callback'

export interface HeadlessOAuthProviderOptions {
  redirectUrl?: string
  clientName?: string
  /** Fallback scope the SDK uses when neither the challenge nor PRM names one. */
  scope?: string
  /** Pre-registered client information; without it the SDK registers dynamically. */
  clientInformation?: OAuthClientInformationMixed
  /** Keep the SDK's discovery state between `auth()` runs (fewer PRM and AS metadata fetches). */
  cacheDiscovery?: boolean
}

/**
 * An `OAuthClientProvider` for the SDK v1 client that plays the user's browser itself: it follows
 * the authorization redirects through oidc-provider's headless login and consent, and keeps the
 * code for `finishAuth`. Everything lives in memory, one instance per simulated user session.
 */
export class HeadlessOAuthProvider implements OAuthClientProvider {
  readonly cookies = new CookieJar()
  /** Every authorization URL the SDK sent the "browser" to, oldest first. */
  readonly authorizationUrls: URL[] = []
  lastCode: string | undefined
  /** The full redirect back, so tests can read `iss` and `state` too. */
  lastCallbackUrl: URL | undefined
  tokensSaved = 0
  readonly #redirectUrl: string
  readonly #options: HeadlessOAuthProviderOptions
  #clientInformation: OAuthClientInformationMixed | undefined
  #tokens: OAuthTokens | undefined
  #codeVerifier: string | undefined
  #discovery: OAuthDiscoveryState | undefined

  constructor(options: HeadlessOAuthProviderOptions = {}) {
    this.#options = options
    this.#redirectUrl = options.redirectUrl ?? DEFAULT_REDIRECT_URL
    this.#clientInformation = options.clientInformation
  }

  get redirectUrl(): string {
    return this.#redirectUrl
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: this.#options.clientName ?? 'headless-test-client',
      redirect_uris: [this.#redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      ...(this.#options.scope === undefined ? {} : { scope: this.#options.scope }),
    }
  }

  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.#clientInformation
  }

  saveClientInformation(clientInformation: OAuthClientInformationMixed): void {
    this.#clientInformation = clientInformation
  }

  tokens(): OAuthTokens | undefined {
    return this.#tokens
  }

  saveTokens(tokens: OAuthTokens): void {
    this.#tokens = tokens
    this.tokensSaved += 1
  }

  /** The access token currently held, if any. */
  get accessToken(): string | undefined {
    return this.#tokens?.access_token
  }

  /** Scopes of the current token: the token response's `scope`, else the JWT's `scope` claim. */
  get scopes(): string[] {
    const tokens = this.#tokens
    if (tokens === undefined) return []
    let scope = tokens.scope
    if (scope === undefined) {
      try {
        const claim = decodeJwt(tokens.access_token)['scope']
        if (typeof claim === 'string') scope = claim
      } catch {
        // An opaque token has no readable claims; no scopes is the honest answer.
      }
    }
    return scope === undefined ? [] : scope.split(' ').filter((item) => item !== '')
  }

  saveCodeVerifier(codeVerifier: string): void {
    this.#codeVerifier = codeVerifier
  }

  codeVerifier(): string {
    if (this.#codeVerifier === undefined) throw new Error('no PKCE code verifier saved')
    return this.#codeVerifier
  }

  invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery'): void {
    if (scope === 'all' || scope === 'client') this.#clientInformation = undefined
    if (scope === 'all' || scope === 'tokens') this.#tokens = undefined
    if (scope === 'all' || scope === 'verifier') this.#codeVerifier = undefined
    if (scope === 'all' || scope === 'discovery') this.#discovery = undefined
  }

  saveDiscoveryState(state: OAuthDiscoveryState): void {
    if (this.#options.cacheDiscovery === true) this.#discovery = state
  }

  discoveryState(): OAuthDiscoveryState | undefined {
    return this.#discovery
  }

  /** Hands out the captured code once, so a stale code is never replayed by accident. */
  takeCode(): string {
    const code = this.lastCode
    if (code === undefined) throw new Error('no authorization code captured')
    this.lastCode = undefined
    return code
  }

  async redirectToAuthorization(authorizationUrl: URL): Promise<void> {
    this.authorizationUrls.push(new URL(authorizationUrl.href))
    let next = new URL(authorizationUrl.href)
    for (let hop = 0; hop < MAX_AUTHORIZATION_HOPS; hop++) {
      if (next.href.startsWith(this.#redirectUrl)) {
        this.lastCallbackUrl = next
        const error = next.searchParams.get('error')
        if (error !== null) {
          throw new Error(`authorization failed: ${error} ${next.searchParams.get('error_description') ?? ''}`.trim())
        }
        const code = next.searchParams.get('code')
        if (code === null) throw new Error(`redirect without code: ${next.href}`)
        this.lastCode = code
        return
      }
      const cookie = this.cookies.header(next)
      const response = await fetch(next, {
        redirect: 'manual',
        headers: cookie === undefined ? {} : { cookie },
      })
      this.cookies.store(next, response.headers.getSetCookie())
      const location = response.headers.get('location')
      if (response.status >= 300 && response.status < 400 && location !== null) {
        await response.body?.cancel()
        next = new URL(location, next)
        continue
      }
      const body = await response.text()
      throw new Error(`authorization stopped at ${response.status} ${next.href}: ${body.slice(0, 500)}`)
    }
    throw new Error(`authorization did not reach ${this.#redirectUrl} in ${MAX_AUTHORIZATION_HOPS} hops`)
  }
}

export interface OAuthSession {
  client: Client
  transport: StreamableHTTPClientTransport
}

export interface ConnectWithOAuthOptions {
  clientName?: string
  transportOptions?: Omit<StreamableHTTPClientTransportOptions, 'authProvider'>
}

/**
 * Connects the SDK v1 client the way a real app does: the first connect meets a 401 and runs
 * the authorization flow (here headless), then `finishAuth` trades the code and a fresh
 * transport connects with the token. Connects straight away if the provider already holds one.
 */
export async function connectWithOAuth(
  mcpUrl: string | URL,
  provider: HeadlessOAuthProvider,
  options: ConnectWithOAuthOptions = {},
): Promise<OAuthSession> {
  const open = (): OAuthSession => ({
    client: new Client({ name: options.clientName ?? 'oauth-test-client', version: '1.0.0' }),
    transport: new StreamableHTTPClientTransport(new URL(mcpUrl), {
      ...options.transportOptions,
      authProvider: provider,
    }),
  })
  const first = open()
  try {
    await first.client.connect(first.transport)
    return first
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error
    await first.transport.finishAuth(provider.takeCode())
    await first.client.close().catch(() => {})
  }
  const second = open()
  await second.client.connect(second.transport)
  return second
}

/**
 * Runs `operation`, and when the SDK answers a 403 step-up challenge with `UnauthorizedError`
 * (it has already re-authorized headlessly), finishes the exchange and retries. Bounded, as the
 * spec asks clients to cap step-up retries.
 */
export async function withStepUp<T>(
  session: OAuthSession,
  provider: HeadlessOAuthProvider,
  operation: () => Promise<T>,
  maxStepUps = 2,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation()
    } catch (error) {
      if (!(error instanceof UnauthorizedError) || attempt >= maxStepUps) throw error
      await session.transport.finishAuth(provider.takeCode())
    }
  }
}

export async function callToolWithStepUp(
  session: OAuthSession,
  provider: HeadlessOAuthProvider,
  params: CallToolRequest['params'],
  maxStepUps = 2,
): Promise<CallToolResult> {
  return withStepUp(session, provider, () => session.client.callTool(params) as Promise<CallToolResult>, maxStepUps)
}
