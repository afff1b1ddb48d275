import type { Config } from '../config/normalize.js'
import { buildProtectedResourceMetadata } from '../metadata/protected-resource.js'

/**
 * The RFC 9728 document of a configuration, for the gateway and the library alike. The DPoP and
 * certificate-binding members (RFC 9728 §2) appear only where sender constraints are configured
 * (the gateway's `senderConstraint`; the library has none).
 */
export function metadataDocumentOf(
  config: Pick<Config, 'resource' | 'authorizationServers'> & { readonly senderConstraint?: Config['senderConstraint'] },
  scopesSupported: readonly string[],
): string {
  const sender = config.senderConstraint
  const dpop = sender?.dpop ?? 'off'
  return buildProtectedResourceMetadata({
    resource: config.resource.canonicalUri,
    authorizationServers: config.authorizationServers.map((as) => as.issuer),
    scopesSupported,
    bearerMethodsSupported: config.resource.bearerMethodsSupported,
    resourceDocumentation: config.resource.documentation,
    resourceName: config.resource.name,
    dpopSigningAlgValuesSupported: dpop === 'off' ? undefined : sender?.dpopAlgorithms,
    dpopBoundAccessTokensRequired: dpop === 'off' ? undefined : dpop === 'required',
    tlsClientCertificateBoundAccessTokens: sender === undefined || sender.mtls === 'off' ? undefined : true,
  })
}
