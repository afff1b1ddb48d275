import type { AuthorizationServerMetadata } from '../token/discovery.js'
import type { SenderConstraintSettings } from '../token/sender-constraint-config.js'
import { ok, warn, type CheckResult } from './result.js'

/**
 * When the gateway requires sender-constrained tokens, whether this authorization server says it
 * issues them (RFC 9449 §5.1 `dpop_signing_alg_values_supported`, RFC 8705 §3.3
 * `tls_client_certificate_bound_access_tokens`). A server that does not can still bind tokens, so
 * this warns rather than fails.
 */
export function checkSenderConstraint(
  settings: Pick<SenderConstraintSettings, 'dpop' | 'dpopAlgorithms' | 'mtls'>,
  metadata: AuthorizationServerMetadata | undefined,
  subject: string,
): CheckResult[] {
  if (metadata === undefined) return []
  const results: CheckResult[] = []
  if (settings.dpop === 'required') {
    const algs = metadata['dpop_signing_alg_values_supported']
    if (!Array.isArray(algs)) {
      results.push(
        warn(
          'as.dpop',
          'senderConstraint.dpop is required, but the metadata has no dpop_signing_alg_values_supported: it may not issue DPoP-bound tokens',
          'turn on DPoP at the authorization server (docs/sender-constrained-tokens.md), or set MCP_DPOP=optional',
          subject,
        ),
      )
    } else if (!algs.some((alg) => (settings.dpopAlgorithms as readonly unknown[]).includes(alg))) {
      results.push(
        warn(
          'as.dpop',
          `dpop_signing_alg_values_supported [${algs.join(', ')}] shares no algorithm with senderConstraint.dpopAlgorithms [${settings.dpopAlgorithms.join(', ')}]`,
          'allow one of the authorization server\'s algorithms in senderConstraint.dpopAlgorithms',
          subject,
        ),
      )
    } else {
      results.push(ok('as.dpop', `DPoP advertised (dpop_signing_alg_values_supported [${algs.join(', ')}])`, subject))
    }
  }
  if (settings.mtls === 'required') {
    results.push(
      metadata['tls_client_certificate_bound_access_tokens'] === true
        ? ok('as.mtls', 'certificate-bound tokens advertised (tls_client_certificate_bound_access_tokens)', subject)
        : warn(
            'as.mtls',
            'senderConstraint.mtls is required, but the metadata does not set tls_client_certificate_bound_access_tokens',
            'turn on certificate-bound access tokens at the authorization server (RFC 8705 §3)',
            subject,
          ),
    )
  }
  return results
}
