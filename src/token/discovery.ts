/**
 * Authorization server metadata discovery: RFC 8414 §3.1 (path insertion), then OpenID Connect
 * Discovery 1.0 in both its path-insertion and path-appending forms, in the order the MCP SDK
 * client tries them.
 */

export interface AuthorizationServerMetadata {
  issuer: string
  jwks_uri?: string
  introspection_endpoint?: string
  token_endpoint?: string
  authorization_endpoint?: string
  registration_endpoint?: string
  code_challenge_methods_supported?: string[]
  [key: string]: unknown
}

export function discoveryUrls(issuer: string): string[] {
  const url = new URL(issuer)
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '')
  if (path === '') {
    return [`${url.origin}/.well-known/oauth-authorization-server`, `${url.origin}/.well-known/openid-configuration`]
  }
  return [
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
    `${url.origin}/.well-known/openid-configuration${path}`,
    `${url.origin}${path}/.well-known/openid-configuration`,
  ]
}

export class DiscoveryError extends Error {
  constructor(
    message: string,
    readonly attempts: readonly { url: string; outcome: string }[],
  ) {
    super(message)
    this.name = 'DiscoveryError'
  }
}

/**
 * Fetches the first discovery document that answers 200 with JSON. The document's `issuer` must
 * equal the configured issuer exactly (RFC 8414 §3.3), or the keys it points to are not trusted.
 */
export async function discoverAuthorizationServer(
  issuer: string,
  options: { timeoutMs: number; fetch?: typeof fetch },
): Promise<{ url: string; metadata: AuthorizationServerMetadata }> {
  const doFetch = options.fetch ?? fetch
  const attempts: { url: string; outcome: string }[] = []
  for (const url of discoveryUrls(issuer)) {
    let response: Response
    try {
      response = await doFetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(options.timeoutMs) })
    } catch (error) {
      attempts.push({ url, outcome: `unreachable (${networkErrorCode(error)})` })
      continue
    }
    if (response.status !== 200) {
      attempts.push({ url, outcome: `HTTP ${response.status}` })
      await response.body?.cancel()
      continue
    }
    let metadata: AuthorizationServerMetadata
    try {
      metadata = (await response.json()) as AuthorizationServerMetadata
    } catch {
      attempts.push({ url, outcome: 'not JSON' })
      continue
    }
    if (metadata.issuer !== issuer) {
      throw new DiscoveryError(
        `the metadata at ${url} names issuer "${String(metadata.issuer)}", not "${issuer}" (RFC 8414 §3.3 requires them to be identical)`,
        [...attempts, { url, outcome: 'issuer mismatch' }],
      )
    }
    return { url, metadata }
  }
  throw new DiscoveryError(`no discovery document found for ${issuer}`, attempts)
}

/** What went wrong on the wire: fetch wraps the socket error (`ECONNREFUSED`, ...) as its `cause`. */
export function networkErrorCode(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown } }).cause
  if (typeof cause?.code === 'string') return cause.code
  const { name, message } = error as Error
  return name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : message || name
}
