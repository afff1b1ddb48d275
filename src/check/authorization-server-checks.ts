import type { ResolvedAuthorizationServer } from '../config/normalize.js'
import { isLoopbackHost } from '../common/loopback.js'
import { DiscoveryError, discoverAuthorizationServer, networkErrorCode, type AuthorizationServerMetadata } from '../token/discovery.js'
import { inspectJwks } from './jwks-keys.js'
import { fail, ok, unreachable, warn, type CheckResult } from './result.js'
import { checkSecretFile } from './secret-file.js'

export interface LiveCheckOptions {
  /** Injected for tests of failure modes a real server cannot show; global `fetch` otherwise. */
  fetch?: typeof fetch
}

export interface AuthorizationServerReport {
  results: CheckResult[]
  /** The metadata document, when one was found (even with a mismatching `issuer`). */
  metadata: AuthorizationServerMetadata | undefined
}

/** `authorizationServers[1].issuer`, or the variable that sets it for the first server. */
export function settingName(index: number, key: string, envName?: string): string {
  const fileKey = `authorizationServers[${index}].${key}`
  return index === 0 && envName !== undefined ? `${envName} (${fileKey})` : fileKey
}

/** OAuth 2.1 §1.5 for a URL of the authorization server; `undefined` when it is fine. */
export function checkHttpsUrl(id: string, value: string, what: string, subject: string): CheckResult | undefined {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return fail(id, `${what} "${value}" is not an absolute URL`, `set it to the https URL of the ${what}`, subject)
  }
  if (url.protocol === 'https:') return undefined
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) {
    return warn(id, `${what} ${value} is plain http (loopback development only)`, 'use https outside development', subject)
  }
  return fail(id, `${what} ${value} is not https (OAuth 2.1 §1.5)`, `serve the ${what} over https`, subject)
}

/**
 * The live checks against one authorization server: metadata found by RFC 8414 or OIDC discovery
 * (`discoverAuthorizationServer`, the gateway's own code), its `issuer` equal to the configured
 * entry byte for byte, PKCE S256 advertised, and the JWKS reachable with usable keys. A mismatching
 * `issuer` does not stop the rest, so one run shows every problem.
 */
export async function checkAuthorizationServer(
  as: ResolvedAuthorizationServer,
  index: number,
  options: LiveCheckOptions = {},
): Promise<AuthorizationServerReport> {
  const subject = as.issuer
  const results: CheckResult[] = []
  const urlProblem = checkHttpsUrl('as.issuer-url', as.issuer, 'issuer', subject)
  if (urlProblem !== undefined) results.push(urlProblem)
  if (urlProblem?.status === 'fail') return { results, metadata: undefined }

  const doFetch = options.fetch ?? fetch
  const { results: found, metadata } = await checkMetadata(as, index, doFetch)
  results.push(...found)

  if (metadata !== undefined) results.push(checkPkce(metadata, subject))
  if (usesJwks(as)) results.push(await checkJwks(as, index, metadata, doFetch))
  if (as.hmacSecretFile !== undefined) {
    results.push(
      warn(
        'as.hmac',
        'tokens are verified with a shared HMAC secret: whoever holds it can mint tokens',
        "for development only; in production verify with the authorization server's public keys (JWKS)",
        subject,
      ),
      await checkSecretFile('as.hmac-secret-file', as.hmacSecretFile, 'HMAC secret file'),
    )
  }
  return { results, metadata }
}

/**
 * RFC 8414 or OIDC discovery (`discoverAuthorizationServer`, the gateway's own code) and the
 * published `issuer` equal to the configured one byte for byte (RFC 8414 §3.3). The metadata is
 * returned even when its `issuer` differs, so the checks after it still run.
 */
export async function checkMetadata(
  as: ResolvedAuthorizationServer,
  index: number,
  doFetch: typeof fetch,
): Promise<AuthorizationServerReport> {
  const subject = as.issuer
  const issuerName = settingName(index, 'issuer', 'MCP_AUTHORIZATION_SERVER')
  // Keeps a copy of each 200 answer, so a document with the wrong `issuer` can still be examined.
  const answers = new Map<string, Response>()
  const recording: typeof fetch = async (input, init) => {
    const response = await doFetch(input, init)
    if (response.status === 200) answers.set(String(input), response.clone())
    return response
  }
  try {
    const found = await discoverAuthorizationServer(as.issuer, { timeoutMs: as.httpTimeout, fetch: recording })
    return {
      metadata: found.metadata,
      results: [
        ok('as.metadata', `metadata found at ${found.url} (${discoveryKind(found.url)})`, subject),
        ok('as.issuer', `the metadata's issuer equals "${as.issuer}" byte for byte`, subject),
      ],
    }
  } catch (error) {
    if (!(error instanceof DiscoveryError)) throw error
    const last = error.attempts[error.attempts.length - 1]
    if (last?.outcome === 'issuer mismatch') {
      const metadata = (await answers.get(last.url)?.json()) as AuthorizationServerMetadata | undefined
      return {
        metadata,
        results: [
          ok('as.metadata', `metadata found at ${last.url} (${discoveryKind(last.url)})`, subject),
          issuerMismatch(as.issuer, String(metadata?.issuer), issuerName, subject),
        ],
      }
    }
    const tried = error.attempts.map((a) => `${a.url} -> ${a.outcome}`).join('; ')
    const result = fail(
      'as.metadata',
      `no RFC 8414 or OIDC discovery document answered (${tried})`,
      `check that ${issuerName} is the issuer URL and that the authorization server is reachable from here`,
      subject,
    )
    // A refused connection, a timeout or a 5xx may pass later; a 404 everywhere is a wrong issuer URL.
    const transient = error.attempts.some((a) => a.outcome.startsWith('unreachable') || /^HTTP 5\d\d$/.test(a.outcome))
    return { metadata: undefined, results: [transient ? unreachable(result) : result] }
  }
}

/**
 * Whether JWTs of this server are verified with public keys: it verifies JWTs at all and has a
 * key source (a JWKS file or URL, or discovery). An HMAC secret is not a JWKS.
 */
export function usesJwks(as: ResolvedAuthorizationServer): boolean {
  return as.verifiesJwt && (as.jwks !== undefined || as.jwksUri !== undefined || as.discovery)
}

function discoveryKind(url: string): string {
  return url.includes('/.well-known/oauth-authorization-server') ? 'RFC 8414' : 'OpenID Connect discovery'
}

/** RFC 8414 §3.3: the `issuer` must be identical; strict MCP clients abort on any difference. */
export function issuerMismatch(configured: string, published: string, name: string, subject: string): CheckResult {
  const slashOnly = configured.replace(/\/$/, '') === published.replace(/\/$/, '')
  const detail = slashOnly ? ' (they differ only by a trailing slash, which strict clients still reject)' : ''
  return fail(
    'as.issuer',
    `the metadata names issuer "${published}", the configuration "${configured}"${detail}`,
    `set ${name} to "${published}" exactly: it is published in authorization_servers and compared byte for byte`,
    subject,
  )
}

/** MCP authorization 2025-11-25: clients MUST refuse an AS whose metadata lacks PKCE S256. */
export function checkPkce(metadata: AuthorizationServerMetadata, subject: string): CheckResult {
  const methods = metadata.code_challenge_methods_supported
  if (!Array.isArray(methods)) {
    return fail(
      'as.pkce',
      'the metadata has no code_challenge_methods_supported: MCP clients must refuse such an authorization server',
      'enable PKCE (S256) at the authorization server so its metadata advertises it',
      subject,
    )
  }
  if (!methods.includes('S256')) {
    return fail(
      'as.pkce',
      `code_challenge_methods_supported is [${methods.join(', ')}], without S256`,
      'enable the S256 PKCE method at the authorization server',
      subject,
    )
  }
  return ok('as.pkce', `PKCE S256 advertised (code_challenge_methods_supported [${methods.join(', ')}])`, subject)
}

/**
 * The JWKS (the file, `jwksUri`, or the metadata's `jwks_uri`) loads and holds a key usable with
 * the allowed algorithms. `judgeTransport: false` leaves out the https finding on its URL: the
 * start-up check asks only whether the keys load.
 */
export async function checkJwks(
  as: ResolvedAuthorizationServer,
  index: number,
  metadata: AuthorizationServerMetadata | undefined,
  doFetch: typeof fetch,
  { judgeTransport = true }: { judgeTransport?: boolean } = {},
): Promise<CheckResult> {
  const subject = as.issuer
  if (as.jwks !== undefined) return judgeKeys(as, await inspectJwks(as.jwks, as.algorithms), `the file ${as.jwksFile}`, subject)
  const uri = as.jwksUri ?? (typeof metadata?.jwks_uri === 'string' ? metadata.jwks_uri : undefined)
  if (uri === undefined && metadata === undefined) {
    return fail('as.jwks', 'no JWKS URL: it comes from the metadata, which was not found', 'fix as.metadata first', subject)
  }
  if (uri === undefined) {
    return fail(
      'as.jwks',
      'the metadata has no jwks_uri',
      `set ${settingName(index, 'jwksUri', 'MCP_JWKS_URI')} or ${settingName(index, 'jwksFile', 'MCP_JWT_KEY_FILE')}`,
      subject,
    )
  }
  const insecure = judgeTransport ? checkHttpsUrl('as.jwks', uri, 'JWKS URL', subject) : undefined
  if (insecure?.status === 'fail') return insecure
  let response: Response
  try {
    response = await doFetch(uri, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(as.httpTimeout) })
  } catch (error) {
    return unreachable(
      fail(
        'as.jwks',
        `the JWKS at ${uri} is unreachable (${describeFetchError(error)})`,
        'make the JWKS URL reachable from the gateway (DNS, firewall, proxy), or correct it',
        subject,
      ),
    )
  }
  if (response.status !== 200) {
    await response.body?.cancel()
    const answered = fail('as.jwks', `the JWKS at ${uri} answered HTTP ${response.status}`, 'correct the JWKS URL', subject)
    return response.status >= 500 ? unreachable(answered) : answered
  }
  let document: unknown
  try {
    document = await response.json()
  } catch {
    return fail('as.jwks', `the JWKS at ${uri} is not JSON`, 'correct the JWKS URL', subject)
  }
  return judgeKeys(as, await inspectJwks(document, as.algorithms), uri, subject)
}

function judgeKeys(
  as: ResolvedAuthorizationServer,
  findings: Awaited<ReturnType<typeof inspectJwks>>,
  where: string,
  subject: string,
): CheckResult {
  if (typeof findings === 'string') return fail('as.jwks', `${where}: ${findings}`, 'point the gateway at the signing keys of this issuer', subject)
  const usable = findings.filter((f) => f.algorithms.length > 0)
  const unusable = findings.filter((f) => f.algorithms.length === 0)
  const skipped = unusable.length === 0 ? '' : `; ignored: ${unusable.map((f) => `${f.kid} (${f.problem})`).join(', ')}`
  if (usable.length === 0) {
    return fail(
      'as.jwks',
      `${where} holds no key usable with the allowed algorithms [${as.algorithms.join(', ')}]${skipped}`,
      'allow the algorithm the authorization server signs with (algorithms), or have it publish a matching key',
      subject,
    )
  }
  const keys = usable.map((f) => `${f.kid} (${f.algorithms.join('/')})`).join(', ')
  return ok('as.jwks', `${where}: ${usable.length} usable key${usable.length === 1 ? '' : 's'}: ${keys}${skipped}`, subject)
}

export function describeFetchError(error: unknown): string {
  const code = networkErrorCode(error)
  return code === 'timeout' ? 'timed out' : code
}
