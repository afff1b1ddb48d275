import { discoveryUrls, type AuthorizationServerMetadata } from '../token/discovery.js'
import { describeError, send } from './http.js'
import { step, type ProbeStep, type StepStatus } from './result.js'

export interface AuthorizationServerFindings {
  step: ProbeStep
  metadata: AuthorizationServerMetadata | undefined
}

/**
 * Step 5: authorization server metadata in the SDK's order (`discoveryUrls`: RFC 8414 path
 * insertion, then OIDC path insertion and path appending). As in the SDK, a 4xx or no answer moves
 * on to the next URL and a 5xx stops. A strict client then requires `issuer` to equal the URL it
 * started from (RFC 8414 §3.3).
 */
export async function probeAuthorizationServer(issuer: string, protocol: string, timeoutMs: number): Promise<AuthorizationServerFindings> {
  const title = 'Authorization server metadata'
  let urls: string[]
  try {
    urls = discoveryUrls(issuer)
  } catch {
    return { step: step('authorization-server', title, 'fail', [`"${issuer}" is not an absolute URL`], 'cannot discover the authorization server'), metadata: undefined }
  }
  const saw: string[] = []
  for (const url of urls) {
    let status: number
    let body: string
    try {
      const response = await send({ method: 'GET', url, headers: { 'mcp-protocol-version': protocol, accept: 'application/json' }, timeoutMs })
      status = response.status
      body = response.body
    } catch (error) {
      saw.push(`GET ${url} -> ${describeError(error)}`)
      continue
    }
    if (status >= 500) {
      saw.push(`GET ${url} -> HTTP ${status}`)
      return { step: step('authorization-server', title, 'fail', saw, `stops: HTTP ${status} loading the metadata`), metadata: undefined }
    }
    if (status !== 200) {
      saw.push(`GET ${url} -> HTTP ${status}`)
      continue
    }
    let metadata: AuthorizationServerMetadata
    try {
      metadata = JSON.parse(body) as AuthorizationServerMetadata
    } catch {
      saw.push(`GET ${url} -> 200, not JSON`)
      return { step: step('authorization-server', title, 'fail', saw, 'stops: the metadata is not JSON'), metadata: undefined }
    }
    saw.push(`GET ${url} -> 200, issuer "${String(metadata.issuer)}"`)
    return { step: evaluateAuthorizationServer(issuer, metadata, saw), metadata }
  }
  return {
    step: step('authorization-server', title, 'fail', [...saw, 'no discovery URL answered 200'], 'finds no authorization server metadata and cannot start authorization'),
    metadata: undefined,
  }
}

/** Pure: the fields a client needs from the metadata, and how it would register. */
export function evaluateAuthorizationServer(issuer: string, metadata: AuthorizationServerMetadata, saw: string[] = []): ProbeStep {
  const title = 'Authorization server metadata'
  const lines = [...saw]
  const statuses: StepStatus[] = []
  const note = (status: StepStatus, text: string) => {
    statuses.push(status)
    lines.push(text)
  }
  if (metadata.issuer !== issuer) {
    const slash = String(metadata.issuer).replace(/\/$/, '') === issuer.replace(/\/$/, '') ? ' (only a trailing slash differs)' : ''
    note('fail', `issuer "${String(metadata.issuer)}" differs from the authorization_servers entry "${issuer}"${slash}; RFC 8414 §3.3 requires them to be identical`)
  }
  for (const field of ['authorization_endpoint', 'token_endpoint'] as const) {
    if (typeof metadata[field] !== 'string') note('fail', `no ${field}`)
  }
  const responseTypes = metadata.response_types_supported
  if (Array.isArray(responseTypes) && !responseTypes.includes('code')) note('fail', `response_types_supported [${responseTypes.join(', ')}] lacks "code"`)
  const registration =
    metadata.client_id_metadata_document_supported === true
      ? 'a Client ID Metadata Document (CIMD)'
      : typeof metadata.registration_endpoint === 'string'
        ? `dynamic registration at ${metadata.registration_endpoint}`
        : 'a pre-registered client id (no CIMD, no registration_endpoint)'
  lines.push(`client registration: ${registration}`)
  const status: StepStatus = statuses.includes('fail') ? 'fail' : 'ok'
  const client =
    status === 'fail'
      ? 'a strict client stops here (the MCP SDK v1 does not compare issuer, but other clients do)'
      : `registers with ${registration}, then sends the user to ${String(metadata.authorization_endpoint)}`
  return step('authorization-server', title, status, lines, client)
}

/** Step 6, pure: MCP authorization 2025-11-25: clients MUST verify PKCE support and refuse without it. */
export function evaluatePkce(metadata: AuthorizationServerMetadata): ProbeStep {
  const title = 'PKCE support'
  const methods = metadata.code_challenge_methods_supported
  if (!Array.isArray(methods)) {
    return step(
      'pkce',
      title,
      'fail',
      ['no code_challenge_methods_supported in the metadata'],
      'refuses to authorize (the MCP SDK v1 proceeds anyway)',
    )
  }
  if (!methods.includes('S256')) {
    return step('pkce', title, 'fail', [`code_challenge_methods_supported [${methods.join(', ')}]`], 'refuses: S256 is required')
  }
  return step('pkce', title, 'ok', [`code_challenge_methods_supported [${methods.join(', ')}]`], 'uses PKCE with S256')
}
