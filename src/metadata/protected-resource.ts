/**
 * RFC 9728 Protected Resource Metadata: the document and the URLs it is served at.
 */

export interface ProtectedResourceMetadataOptions {
  resource: string
  authorizationServers: readonly string[]
  scopesSupported: readonly string[]
  bearerMethodsSupported: readonly string[]
  resourceDocumentation?: string | undefined
  resourceName?: string | undefined
  /** RFC 9728 §2 `dpop_signing_alg_values_supported`, when DPoP is accepted. */
  dpopSigningAlgValuesSupported?: readonly string[] | undefined
  /** RFC 9728 §2 `dpop_bound_access_tokens_required`, when DPoP is accepted. */
  dpopBoundAccessTokensRequired?: boolean | undefined
  /** RFC 9728 §2 `tls_client_certificate_bound_access_tokens`, when certificate binding is on. */
  tlsClientCertificateBoundAccessTokens?: boolean | undefined
}

/**
 * The document, in the anchor's key order. `resource` is the canonical URI exactly (RFC 9728
 * §3.3: it must equal the identifier the well-known URL was built from), and each
 * `authorization_servers` entry is the issuer exactly as the AS publishes it (RFC 8414 §3.3).
 * `offline_access` is never advertised (MCP 2026-07-28 authorization).
 */
export function buildProtectedResourceMetadata(options: ProtectedResourceMetadataOptions): string {
  const document: Record<string, unknown> = {
    resource: options.resource,
    authorization_servers: options.authorizationServers,
    scopes_supported: options.scopesSupported.filter((s) => s !== 'offline_access'),
    bearer_methods_supported: options.bearerMethodsSupported,
  }
  if (options.resourceName !== undefined) document.resource_name = options.resourceName
  if (options.resourceDocumentation !== undefined) document.resource_documentation = options.resourceDocumentation
  if (options.tlsClientCertificateBoundAccessTokens !== undefined) {
    document.tls_client_certificate_bound_access_tokens = options.tlsClientCertificateBoundAccessTokens
  }
  if (options.dpopSigningAlgValuesSupported !== undefined) {
    document.dpop_signing_alg_values_supported = options.dpopSigningAlgValuesSupported
  }
  if (options.dpopBoundAccessTokensRequired !== undefined) {
    document.dpop_bound_access_tokens_required = options.dpopBoundAccessTokensRequired
  }
  return JSON.stringify(document)
}

const WELL_KNOWN = '/.well-known/oauth-protected-resource'

/**
 * RFC 9728 §3.1: the well-known suffix goes between the host and the path of the resource
 * identifier; a resource at the origin root has no path part.
 */
export function protectedResourceMetadataUrl(resource: string): string {
  const url = new URL(resource)
  const path = url.pathname === '/' ? '' : url.pathname
  return `${url.origin}${WELL_KNOWN}${path}${url.search}`
}

/** Every request path the document is served at: the root and the path-aware form. */
export function protectedResourceMetadataPaths(resource: string, extra: readonly string[] = []): string[] {
  const url = new URL(resource)
  const paths = new Set([WELL_KNOWN, new URL(protectedResourceMetadataUrl(resource)).pathname])
  if (url.pathname !== '/') paths.add(`${WELL_KNOWN}${url.pathname}`)
  for (const p of extra) paths.add(p)
  return [...paths]
}
