import type { ResolvedAuthorizationServer } from '../config/normalize.js'
import { AuthorizationServerUnavailable } from '../errors.js'
import { DiscoveryError, discoverAuthorizationServer, networkErrorCode } from '../token/discovery.js'

/**
 * Fetches, once at start, what each authorization server must publish before a token can be
 * verified: its discovery document (when keys or the introspection endpoint come from it) and its
 * JWKS. The MCP server template's `--oauth` mode refuses to start without them; so does
 * `createResourceServer`, with the URL and the cause, instead of answering 503 later.
 */
export async function checkAuthorizationServers(servers: readonly ResolvedAuthorizationServer[]): Promise<void> {
  await Promise.all(servers.map(checkOne))
}

async function checkOne(as: ResolvedAuthorizationServer): Promise<void> {
  const remoteKeys = as.verifiesJwt && as.jwks === undefined && as.hmacSecret === undefined
  let jwksUri = remoteKeys ? as.jwksUri : undefined
  const needsDiscovery = (remoteKeys && jwksUri === undefined) || (as.introspection !== undefined && as.introspection.endpoint === undefined)
  if (needsDiscovery) {
    const metadata = await discover(as)
    if (remoteKeys && jwksUri === undefined) {
      if (typeof metadata.document.jwks_uri !== 'string') {
        throw new AuthorizationServerUnavailable(metadata.url, 'the discovery document has no jwks_uri')
      }
      jwksUri = metadata.document.jwks_uri
    }
  }
  if (jwksUri !== undefined) await fetchJwks(jwksUri, as.httpTimeout)
}

async function discover(as: ResolvedAuthorizationServer): Promise<{ url: string; document: Record<string, unknown> }> {
  try {
    const { url, metadata } = await discoverAuthorizationServer(as.issuer, { timeoutMs: as.httpTimeout })
    return { url, document: metadata }
  } catch (error) {
    if (!(error instanceof DiscoveryError)) throw error
    // Name the first URL tried (RFC 8414 §3.1's) and every outcome.
    const url = error.attempts[0]?.url ?? as.issuer
    const tried = error.attempts.map((a) => `${a.url}: ${a.outcome}`).join('; ')
    throw new AuthorizationServerUnavailable(url, tried === '' ? error.message : `${error.message} (${tried})`, { cause: error })
  }
}

async function fetchJwks(url: string, timeoutMs: number): Promise<void> {
  let response: Response
  try {
    response = await fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) })
  } catch (error) {
    throw new AuthorizationServerUnavailable(url, `unreachable (${networkErrorCode(error)})`, { cause: error })
  }
  if (response.status !== 200) {
    await response.body?.cancel()
    throw new AuthorizationServerUnavailable(url, `HTTP ${response.status}`)
  }
  const jwks = (await response.json().catch(() => undefined)) as { keys?: unknown } | undefined
  if (!Array.isArray(jwks?.keys) || jwks.keys.length === 0) {
    throw new AuthorizationServerUnavailable(url, 'not a JWKS (expected JSON {"keys": [...]} with at least one key)')
  }
}
