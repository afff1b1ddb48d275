import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client'
import type {
  CallToolRequest,
  CallToolResult,
  FetchLike,
  OAuthClientProvider,
  StreamableHTTPClientTransportOptions,
} from '@modelcontextprotocol/client'
import { HeadlessOAuthProvider } from './oauth-client.js'
import type { HeadlessOAuthProviderOptions } from './oauth-client.js'

/**
 * The headless provider for the SDK v2 client (`@modelcontextprotocol/client` 2.x). It is the v1
 * provider (same cookie jar, same walk through oidc-provider's login and consent, same in-memory
 * stores) with what v2 asks for on top:
 *
 * - `discoveryState` is always kept: v2 checks on the callback leg that the code goes back to the
 *   authorization server it was requested from (SEP-2352) and refuses when the state is missing.
 * - `finishAuth` takes the whole callback query, so the SDK can check RFC 9207 `iss` before it
 *   redeems the code: `takeCallbackParams()` hands it out once.
 *
 * The stored tokens and client information are kept verbatim, so the `issuer` stamp v2 adds
 * round-trips (otherwise v2 warns on every read).
 */
export class HeadlessOAuthProviderV2 extends HeadlessOAuthProvider implements OAuthClientProvider {
  constructor(options: Omit<HeadlessOAuthProviderOptions, 'cacheDiscovery'> = {}) {
    super({ ...options, cacheDiscovery: true })
  }

  /** The redirect back from the authorization server (`code`, `iss`, `state`), once. */
  takeCallbackParams(): URLSearchParams {
    const callback = this.lastCallbackUrl
    // takeCode clears the code, so one callback is never redeemed twice.
    this.takeCode()
    if (callback === undefined) throw new Error('no authorization callback captured')
    return new URLSearchParams(callback.searchParams)
  }
}

/** One request the transport made (MCP endpoint, metadata, registration, token) and its answer. */
export interface WireExchange {
  method: string
  url: URL
  status: number
  wwwAuthenticate: string | null
  /** Request headers as sent, lower-cased names. */
  headers: Record<string, string>
  /** A form or text request body (token and registration requests); `undefined` otherwise. */
  body: string | undefined
}

/**
 * A fetch that records every exchange, for asserting the order of the discovery steps. The v2
 * transport uses one fetch for MCP requests and for its OAuth requests alike.
 */
export function recordingFetch(log: WireExchange[]): FetchLike {
  return async (input, init) => {
    const response = await fetch(input, init)
    const body = init?.body
    const headers: Record<string, string> = {}
    new Headers(init?.headers).forEach((value, name) => {
      headers[name] = value
    })
    log.push({
      method: init?.method ?? 'GET',
      url: new URL(input instanceof URL ? input.href : String(input)),
      status: response.status,
      wwwAuthenticate: response.headers.get('www-authenticate'),
      headers,
      body: typeof body === 'string' || body instanceof URLSearchParams ? String(body) : undefined,
    })
    return response
  }
}

export interface OAuthSessionV2 {
  client: Client
  transport: StreamableHTTPClientTransport
}

export interface ConnectWithOAuthV2Options {
  clientName?: string
  transportOptions?: Omit<StreamableHTTPClientTransportOptions, 'authProvider'>
}

/**
 * Connects the v2 client as an app does: the first connect meets the 401 and runs the
 * authorization (headless here), `finishAuth` redeems the callback, and a fresh transport connects
 * with the token.
 */
export async function connectWithOAuthV2(
  mcpUrl: string | URL,
  provider: HeadlessOAuthProviderV2,
  options: ConnectWithOAuthV2Options = {},
): Promise<OAuthSessionV2> {
  const open = (): OAuthSessionV2 => ({
    client: new Client({ name: options.clientName ?? 'oauth-test-client-v2', version: '2.0.0' }),
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
    await first.transport.finishAuth(provider.takeCallbackParams())
    await first.client.close().catch(() => {})
  }
  const second = open()
  await second.client.connect(second.transport)
  return second
}

/**
 * Runs `operation`; when the v2 transport met a 403 `insufficient_scope`, it has already asked for
 * the union of its scopes and the challenged ones (headless redirect done) and throws
 * `UnauthorizedError`: redeem the callback and retry. Bounded, as the spec asks of clients.
 */
export async function withStepUpV2<T>(
  session: OAuthSessionV2,
  provider: HeadlessOAuthProviderV2,
  operation: () => Promise<T>,
  maxStepUps = 2,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation()
    } catch (error) {
      if (!(error instanceof UnauthorizedError) || attempt >= maxStepUps) throw error
      await session.transport.finishAuth(provider.takeCallbackParams())
    }
  }
}

export async function callToolWithStepUpV2(
  session: OAuthSessionV2,
  provider: HeadlessOAuthProviderV2,
  params: CallToolRequest['params'],
  maxStepUps = 2,
): Promise<CallToolResult> {
  const call = () => session.client.callTool(params) as Promise<CallToolResult>
  return withStepUpV2(session, provider, call, maxStepUps)
}
