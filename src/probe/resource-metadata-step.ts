import { describeError, send } from './http.js'
import { step, type ProbeStep, type StepStatus } from './result.js'

export interface ResourceMetadataDocument {
  resource: string
  authorization_servers: string[]
  scopes_supported?: string[]
  bearer_methods_supported?: string[]
  [key: string]: unknown
}

const WELL_KNOWN = '/.well-known/oauth-protected-resource'

/**
 * The two well-known URLs a client tries when no header names one (MCP authorization §Protected
 * Resource Metadata Discovery Requirements), built as the SDK builds them: the path-aware form with
 * a trailing slash of the path dropped and the query kept, then the root form unless the path is `/`.
 */
export function wellKnownUrls(serverUrl: string): { pathAware: string; root: string | undefined } {
  const url = new URL(serverUrl)
  const path = url.pathname.endsWith('/') ? url.pathname.slice(0, -1) : url.pathname
  return {
    pathAware: `${url.origin}${WELL_KNOWN}${path}${url.search}`,
    root: url.pathname === '/' ? undefined : `${url.origin}${WELL_KNOWN}`,
  }
}

interface Fetched {
  url: string
  /** HTTP status, or `undefined` when there was no response. */
  status: number | undefined
  line: string
  document: ResourceMetadataDocument | undefined
  problem: string | undefined
  cors: boolean
}

async function fetchMetadata(url: string, protocol: string, timeoutMs: number): Promise<Fetched> {
  try {
    // The SDK sends MCP-Protocol-Version on every metadata request (client/auth.js).
    const response = await send({ method: 'GET', url, headers: { 'mcp-protocol-version': protocol, accept: 'application/json' }, timeoutMs })
    const cors = response.headers['access-control-allow-origin'] !== undefined
    if (response.status !== 200) {
      return { url, status: response.status, line: `GET ${url} -> HTTP ${response.status}`, document: undefined, problem: `HTTP ${response.status}`, cors }
    }
    const problem = validateDocument(response.body)
    const document = problem === undefined ? (JSON.parse(response.body) as ResourceMetadataDocument) : undefined
    const summary = document === undefined ? problem : `resource "${document.resource}", authorization_servers [${document.authorization_servers.join(', ')}]`
    return { url, status: 200, line: `GET ${url} -> 200, ${summary}`, document, problem, cors }
  } catch (error) {
    return { url, status: undefined, line: `GET ${url} -> ${describeError(error)}`, document: undefined, problem: describeError(error), cors: false }
  }
}

/** RFC 9728 §2: `resource` is required; MCP requires at least one entry in `authorization_servers`. */
export function validateDocument(body: string): string | undefined {
  let value: unknown
  try {
    value = JSON.parse(body)
  } catch {
    return 'not JSON'
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object'
  const doc = value as Record<string, unknown>
  if (typeof doc.resource !== 'string') return 'no "resource" string'
  const servers = doc.authorization_servers
  if (!Array.isArray(servers) || servers.length === 0 || servers.some((s) => typeof s !== 'string')) {
    return 'no "authorization_servers" list (MCP requires at least one)'
  }
  if (doc.scopes_supported !== undefined && (!Array.isArray(doc.scopes_supported) || doc.scopes_supported.some((s) => typeof s !== 'string'))) {
    return '"scopes_supported" is not a list of strings'
  }
  return undefined
}

export interface ResourceMetadataFindings {
  step: ProbeStep
  document: ResourceMetadataDocument | undefined
}

/**
 * Step 3: the metadata a client ends up with, in the SDK's order (the header URL, with no fallback
 * when it fails; else path-aware, then root on a 4xx or no answer), plus the URLs it did not need,
 * so a deployment serving only one of them is seen.
 */
export async function probeResourceMetadata(
  serverUrl: string,
  headerUrl: string | undefined,
  challengeScope: string | undefined,
  protocol: string,
  timeoutMs: number,
): Promise<ResourceMetadataFindings> {
  const title = 'Protected resource metadata (RFC 9728)'
  const { pathAware, root } = wellKnownUrls(serverUrl)
  const urls = [...new Set([headerUrl, pathAware, root].filter((u): u is string => u !== undefined))]
  const fetched = new Map<string, Fetched>()
  await Promise.all(urls.map(async (u) => fetched.set(u, await fetchMetadata(u, protocol, timeoutMs))))
  const get = (u: string) => fetched.get(u) as Fetched

  let chosen: Fetched
  if (headerUrl !== undefined) {
    chosen = get(headerUrl)
  } else {
    chosen = get(pathAware)
    const fallBack = chosen.status === undefined || (chosen.status >= 400 && chosen.status < 500)
    if (fallBack && root !== undefined) chosen = get(root)
  }
  const saw = urls.map((u) => get(u).line)
  const statuses: StepStatus[] = []
  const note = (status: StepStatus, text: string) => {
    statuses.push(status)
    saw.push(text)
  }

  const document = chosen.document
  if (document === undefined) {
    note('fail', `the client's metadata URL ${chosen.url} gave ${chosen.problem ?? 'nothing usable'}`)
    const client =
      headerUrl === undefined
        ? `finds no metadata and falls back to treating ${new URL(serverUrl).origin} as the authorization server (legacy)`
        : 'stops: "Resource server does not implement OAuth 2.0 Protected Resource Metadata" (no fallback once a header named the URL)'
    return { step: step('resource-metadata', title, 'fail', saw, client), document: undefined }
  }
  if (headerUrl !== undefined && get(pathAware).document === undefined) {
    note('warn', `the path-aware URL ${pathAware} is not served: clients that get no header cannot find the metadata there`)
  }
  const served = urls.map(get).filter((f) => f.document !== undefined)
  if (new Set(served.map((f) => JSON.stringify(f.document))).size > 1) {
    note('warn', 'the URLs serve different documents; clients following different paths see different resources')
  }
  if (!chosen.cors) note('warn', 'no Access-Control-Allow-Origin: browser-based clients (MCP Inspector) cannot read the document')
  if (document.bearer_methods_supported !== undefined && !document.bearer_methods_supported.includes('header')) {
    note('warn', `bearer_methods_supported [${document.bearer_methods_supported.join(', ')}] lacks "header" (MCP sends the token in the header only)`)
  }
  if (challengeScope !== undefined && document.scopes_supported !== undefined) {
    const supported = new Set(document.scopes_supported)
    const missing = challengeScope.split(' ').filter((s) => s !== '' && !supported.has(s))
    if (missing.length > 0) note('warn', `challenged scope ${missing.join(', ')} is missing from scopes_supported [${document.scopes_supported.join(', ')}]`)
  }
  if (document.scopes_supported?.includes('offline_access') === true) {
    note('warn', 'scopes_supported lists offline_access, which is not a resource scope')
  }
  // RFC 9728 §2: sender-constrained tokens, reported as the document states them.
  const dpopAlgs = document['dpop_signing_alg_values_supported']
  if (Array.isArray(dpopAlgs)) {
    const required = document['dpop_bound_access_tokens_required'] === true
    note('ok', `DPoP accepted (algs ${dpopAlgs.join(', ')})${required ? '; DPoP-bound tokens required' : ''}`)
  }
  if (document['tls_client_certificate_bound_access_tokens'] === true) note('ok', 'certificate-bound tokens (RFC 8705) accepted')
  const status: StepStatus = statuses.includes('warn') ? 'warn' : 'ok'
  const uses = document.authorization_servers[0] as string
  const more = document.authorization_servers.length > 1 ? ` (the first of ${document.authorization_servers.length})` : ''
  return {
    step: step('resource-metadata', title, status, saw, `uses ${chosen.url} and the authorization server ${uses}${more}`),
    document,
  }
}

/**
 * The SDK's `checkResourceAllowed` rule: same origin, and the metadata's path is a prefix of the
 * server URL's path, compared segment-wise.
 */
export function resourceAllowed(serverUrl: string, resource: string): boolean {
  let requested: URL
  let configured: URL
  try {
    requested = new URL(serverUrl)
    configured = new URL(resource)
  } catch {
    return false
  }
  if (requested.origin !== configured.origin) return false
  if (requested.pathname.length < configured.pathname.length) return false
  const withSlash = (p: string) => (p.endsWith('/') ? p : `${p}/`)
  return withSlash(requested.pathname).startsWith(withSlash(configured.pathname))
}

/** Step 4, pure: RFC 9728 §3.3 and the SDK's check of `resource` against the URL connected to. */
export function evaluateResourceMatch(serverUrl: string, resource: string): ProbeStep {
  const title = 'resource matches the endpoint'
  const saw = [`resource "${resource}", endpoint "${serverUrl}"`]
  if (resource === serverUrl) {
    return step('resource-match', title, 'ok', saw, `sends resource=${resource} in the authorization and token requests (RFC 8707)`)
  }
  if (resourceAllowed(serverUrl, resource)) {
    return step(
      'resource-match',
      title,
      'warn',
      [...saw, 'not equal, but accepted as a prefix of the endpoint by the SDK client'],
      `sends resource=${resource}; tokens carry that audience, which the server must accept`,
    )
  }
  return step(
    'resource-match',
    title,
    'fail',
    [...saw, 'different origin, or not a path prefix of the endpoint'],
    `stops: "Protected resource ${resource} does not match expected ${serverUrl}"`,
  )
}
