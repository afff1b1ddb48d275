import type { Config, ResolvedAuthorizationServer } from '../config/normalize.js'
import { checkJwks, checkMetadata, type LiveCheckOptions } from './authorization-server-checks.js'
import type { CheckResult } from './result.js'

/**
 * What `serve` checks before it listens: that the keys of every authorization server load, by the
 * same checks `check` runs (so a failed start says what `check` would), limited to what loading
 * the keys does. Keys in a file or an HMAC secret need no network; a JWKS URL is fetched; without
 * one, discovery must find metadata whose `issuer` equals the configured one byte for byte
 * (RFC 8414 §3.3), then its `jwks_uri`. A gateway started without keys could only answer 503
 * (or 401 to every token, for an issuer that differs from what its tokens carry).
 */
export async function checkKeysAtStart(config: Config, options: LiveCheckOptions = {}): Promise<CheckResult[]> {
  const perServer = await Promise.all(config.authorizationServers.map((as, index) => checkKeySource(as, index, options)))
  return perServer.flat().filter((result) => result.status === 'fail')
}

async function checkKeySource(as: ResolvedAuthorizationServer, index: number, options: LiveCheckOptions): Promise<CheckResult[]> {
  if (!as.verifiesJwt || as.jwks !== undefined || as.hmacSecret !== undefined) return []
  const doFetch = options.fetch ?? fetch
  if (as.jwksUri !== undefined) return [await checkJwks(as, index, undefined, doFetch, { judgeTransport: false })]
  const { results, metadata } = await checkMetadata(as, index, doFetch)
  if (results.some((result) => result.status === 'fail')) return results
  return [await checkJwks(as, index, metadata, doFetch, { judgeTransport: false })]
}

/**
 * 0 when nothing failed; 1 when every failure is a server that could not be reached (a later
 * start may pass, or `startWithoutKeys` waits for it); 2 when a setting must be corrected, as for
 * an invalid configuration.
 */
export function startUpExitCode(failures: readonly CheckResult[]): 0 | 1 | 2 {
  if (failures.length === 0) return 0
  return failures.every((failure) => failure.unreachable === true) ? 1 : 2
}
