import type { Config } from '../config/normalize.js'
import { isLoopbackHost } from '../common/loopback.js'
import { upstreamRequestHeaders } from '../proxy/headers.js'
import { fail, ok, warn, worst, type CheckResult, type CheckStatus } from './result.js'

/**
 * Checks of docs/security.md's mandatory items that the configuration alone decides. Pure: no network, no
 * file system; the live checks are in `authorization-server-checks.ts` and `introspection-checks.ts`.
 */

/**
 * OAuth 2.1 §1.5: protected-resource traffic runs over HTTPS. MCP authorization §Canonical Server
 * URI: no fragment, lowercase scheme and host, no trailing slash unless it is significant.
 */
export function checkCanonicalUri(canonicalUri: string): CheckResult {
  let url: URL
  try {
    url = new URL(canonicalUri)
  } catch {
    return fail('canonical-uri', `"${canonicalUri}" is not an absolute URL`, 'set MCP_CANONICAL_URI to the https URL clients use, like https://mcp.example.com/mcp')
  }
  const notes: string[] = []
  const fixes: string[] = []
  let status: CheckStatus = 'ok'
  if (url.protocol === 'http:') {
    if (!isLoopbackHost(url.hostname)) {
      return fail(
        'canonical-uri',
        `${canonicalUri} is plain http on a non-loopback host (OAuth 2.1 §1.5 requires https)`,
        'serve the endpoint over https (MCP_TLS=on, or TLS at a load balancer) and set MCP_CANONICAL_URI to its https URL',
      )
    }
    status = 'warn'
    notes.push('plain http, accepted for loopback development only')
    fixes.push('use an https URL for anything reachable from another machine')
  } else if (url.protocol !== 'https:') {
    return fail('canonical-uri', `${canonicalUri} is not an http(s) URL`, 'set MCP_CANONICAL_URI to an https URL')
  }
  const schemeAndHost = /^([a-z][a-z0-9+.-]*:\/\/[^/?#]*)/i.exec(canonicalUri)?.[1] ?? ''
  if (schemeAndHost !== schemeAndHost.toLowerCase()) {
    status = worst(status, 'warn')
    notes.push('scheme or host is not lowercase')
    fixes.push(`write it as ${url.origin}${url.pathname === '/' ? '' : url.pathname}: the AS mints aud from this exact string`)
  }
  if (url.pathname.length > 1 && url.pathname.endsWith('/')) {
    status = worst(status, 'warn')
    notes.push('the path ends with "/" (the MCP spec asks for the form without it unless the slash is significant)')
    fixes.push('drop the trailing slash unless your clients use it; "/mcp" and "/mcp/" are different audiences')
  }
  if (status === 'ok') return ok('canonical-uri', `${canonicalUri} is an https URL in canonical form`)
  return warn('canonical-uri', `${canonicalUri}: ${notes.join('; ')}`, fixes.join('; '))
}

/** Seed 000: plaintext only inside one trust boundary, never exposed to the public internet. */
export function checkTransport(config: Pick<Config, 'tls' | 'listen'>): CheckResult {
  if (config.tls.enabled) {
    return ok('transport', `HTTPS on ${config.listen.host}:${config.listen.port}, TLS ${config.tls.minVersion} minimum`)
  }
  if (isLoopbackHost(config.listen.host)) return ok('transport', `plain HTTP on loopback (${config.listen.host}) only`)
  return warn(
    'transport',
    `plain HTTP on ${config.listen.host}:${config.listen.port} (MCP_TLS=off); this cannot be checked from here`,
    'terminate TLS at a load balancer in the same trust boundary as the gateway, or set MCP_TLS=on with ' +
      'MCP_SSL_CERT_FILE and MCP_SSL_CERT_KEY_FILE; never expose the plaintext port to the internet',
  )
}

/**
 * MCP authorization §Access Token Privilege Restriction (RFC 8707): tokens must name this resource.
 * The gateway always compares `aud` with the canonical URI; extra audiences widen that on purpose.
 */
export function checkAudienceBinding(config: Pick<Config, 'resource' | 'authorizationServers'>): CheckResult {
  const extra = config.authorizationServers.flatMap((as) => as.audiences.map((aud) => `${aud} (${as.issuer})`))
  const base = `every token must carry aud "${config.resource.canonicalUri}" (always enforced, no switch turns it off)`
  const wildcard = config.authorizationServers.some((as) => as.audiences.some((aud) => aud.includes('*')))
  if (wildcard) {
    return fail(
      'audience',
      `${base}, but an extra audience contains "*", which is compared literally and is almost certainly a mistake`,
      'list each extra audience exactly (MCP_EXTRA_AUDIENCES), or remove it',
    )
  }
  if (extra.length === 0) return ok('audience', base)
  return ok('audience', `${base}; also accepted: ${extra.join(', ')}`)
}

/**
 * MCP authorization §Token Passthrough. Structural: the forwarder builds upstream headers with
 * `upstreamRequestHeaders`, so this runs that very function on a request carrying credentials.
 */
export function checkNoPassthrough(): CheckResult {
  const forwarded = upstreamRequestHeaders(
    { authorization: 'Bearer check', 'proxy-authorization': 'Basic check', dpop: 'check', 'content-type': 'application/json' },
    { remoteAddress: '127.0.0.1', proto: 'https', host: 'check' },
  )
  const leaked = Object.keys(forwarded).filter((name) => name === 'authorization' || name === 'proxy-authorization' || name === 'dpop')
  if (leaked.length > 0) {
    return fail('no-passthrough', `the proxy forwards ${leaked.join(', ')} to the backend`, 'this is a gateway bug: report it')
  }
  return ok(
    'no-passthrough',
    'structural: the proxy drops Authorization, Proxy-Authorization and DPoP before forwarding; no setting turns this off',
  )
}

/**
 * Seed 000: no Authorization value in any log. Structural: log lines are built from decision
 * events, which hold no token, secret or introspection answer. The seed still asks to pin the
 * level to info or higher in production.
 */
export function checkLogging(config: Pick<Config, 'log'>): CheckResult {
  const structural = 'structural: log lines come from decision events, which never hold a token, secret or introspection answer'
  if (config.log.level === 'debug' || config.log.level === 'trace') {
    return warn(
      'log-secrets',
      `${structural}; the level is ${config.log.level}`,
      'pin MCP_LOG_LEVEL to info (or higher) in production (docs/security.md)',
    )
  }
  return ok('log-secrets', `${structural}; level ${config.log.level}`)
}

/**
 * Seed 000 / MCP §Scope Selection Strategy: the 401 `scope` and `scopes_supported` must agree, or
 * a client following the metadata asks for scopes the challenge then refuses.
 */
export function checkScopeConsistency(scopesSupported: readonly string[], challengeScope: readonly string[]): CheckResult {
  const supported = new Set(scopesSupported)
  const missing = challengeScope.filter((s) => !supported.has(s))
  const shown = `challenge scope "${challengeScope.join(' ')}", scopes_supported [${scopesSupported.join(', ')}]`
  if (missing.length > 0) {
    return fail(
      'scopes',
      `${shown}: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} challenged but not advertised`,
      'add them to scopes.supported (MCP_SCOPES_SUPPORTED), or change scopes.required (MCP_REQUIRED_SCOPE)',
    )
  }
  if (challengeScope.length === 0 && scopesSupported.length === 0) {
    return warn(
      'scopes',
      'no scopes configured: any token for this audience may call everything, and clients request no scope',
      'set MCP_REQUIRED_SCOPE (and MCP_SCOPES_SUPPORTED) to the scopes your authorization server grants',
    )
  }
  if (challengeScope.length === 0) {
    return warn(
      'scopes',
      `${shown}: the 401 names no scope, so clients request all of scopes_supported`,
      'set MCP_REQUIRED_SCOPE to the minimal scope a client needs to connect',
    )
  }
  return ok('scopes', `${shown}: consistent`)
}

/** Seed 000: the client secret comes from a file, never from the environment. */
export function checkSecretNotInEnvironment(env: Readonly<Record<string, string | undefined>>): CheckResult | undefined {
  const value = env['MCP_CLIENT_SECRET']
  if (value === undefined || value === '') return undefined
  return fail(
    'secret-env',
    'MCP_CLIENT_SECRET is set: a secret in the environment shows in `docker inspect` and process listings',
    'unset it; put the secret in a file with mode 600 and point MCP_CLIENT_SECRET_FILE at it',
  )
}
