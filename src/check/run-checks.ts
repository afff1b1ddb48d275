import type { Config } from '../config/normalize.js'
import { createMcpAuthorizer } from '../server/mcp-authorizer.js'
import { checkAuthorizationServer } from './authorization-server-checks.js'
import {
  checkAudienceBinding,
  checkCanonicalUri,
  checkLogging,
  checkNoPassthrough,
  checkScopeConsistency,
  checkSecretNotInEnvironment,
  checkTransport,
} from './config-checks.js'
import { checkUpstreamIdentity } from './identity-checks.js'
import { checkIntrospection } from './introspection-checks.js'
import { ok, type CheckResult } from './result.js'
import { checkSenderConstraint } from './sender-constraint-checks.js'
import { checkSecretFile } from './secret-file.js'

export interface RunChecksOptions {
  /** The environment the configuration came from (for variables that must not be set). */
  env?: Readonly<Record<string, string | undefined>>
  fetch?: typeof fetch
  /** A real access token to exchange once (upstream identity `exchange` mode). */
  exchangeToken?: string | undefined
}

/**
 * Every check, in report order: the configuration's own rules (docs/security.md), then per
 * authorization server the live ones (metadata, issuer, PKCE, JWKS, sender-constrained tokens,
 * introspection). The servers are checked
 * concurrently; their lines keep configuration order.
 */
export async function runChecks(config: Config, options: RunChecksOptions = {}): Promise<CheckResult[]> {
  const results: CheckResult[] = [
    ok('config', `configuration valid${config.file === undefined ? ' (environment only)' : ` (${config.file})`}`),
    checkCanonicalUri(config.resource.canonicalUri),
    checkTransport(config),
  ]
  if (config.tls.enabled && config.tls.keyFile !== undefined) {
    results.push(await checkSecretFile('tls.key-file', config.tls.keyFile, 'TLS private key', 'warn'))
  }
  const authorizer = createMcpAuthorizer(config, config.backend.protocolVersions)
  results.push(
    checkAudienceBinding(config),
    checkNoPassthrough(),
    checkLogging(config),
    checkScopeConsistency(authorizer.scopesSupported, authorizer.challengeScope),
  )
  const secretInEnv = checkSecretNotInEnvironment(options.env ?? {})
  if (secretInEnv !== undefined) results.push(secretInEnv)

  const perServer = await Promise.all(
    config.authorizationServers.map(async (as, index) => {
      const report = await checkAuthorizationServer(as, index, { fetch: options.fetch })
      report.results.push(...checkSenderConstraint(config.senderConstraint, report.metadata, as.issuer))
      if (as.introspection === undefined) return report.results
      return [...report.results, ...(await checkIntrospection(as, index, as.introspection, report.metadata, { fetch: options.fetch }))]
    }),
  )
  for (const lines of perServer) results.push(...lines)
  results.push(...(await checkUpstreamIdentity(config, { exchangeToken: options.exchangeToken })))
  return results
}
