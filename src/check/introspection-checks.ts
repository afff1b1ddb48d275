import { randomBytes } from 'node:crypto'
import type { ResolvedAuthorizationServer } from '../config/normalize.js'
import type { AuthorizationServerMetadata } from '../token/discovery.js'
import { checkHttpsUrl, describeFetchError, settingName } from './authorization-server-checks.js'
import type { ResolvedIntrospection } from '../token/introspection-config.js'
import { fail, ok, warn, type CheckResult } from './result.js'
import { checkSecretFile } from './secret-file.js'

/** Seed 000: revocation is seen only once a cached answer expires; MCP guidance is tens of seconds. */
const TTL_OK_MS = 60_000
const TTL_MAX_MS = 300_000

export function checkIntrospectionCacheTtl(ttlMs: number, subject?: string): CheckResult {
  const seconds = `${Math.round(ttlMs / 100) / 10}s`
  if (ttlMs <= TTL_OK_MS) return ok('introspection.cache-ttl', `introspection answers cached at most ${seconds}`, subject)
  const message = `introspection answers cached up to ${seconds}: a revoked token keeps working that long`
  const fix = 'set MCP_INTROSPECT_CACHE_MAX_TTL to tens of seconds (60s or less)'
  return ttlMs <= TTL_MAX_MS
    ? warn('introspection.cache-ttl', message, fix, subject)
    : fail('introspection.cache-ttl', message, fix, subject)
}

export interface IntrospectionClientProbe {
  endpoint: string
  clientId: string
  secret: string
  clientAuth: 'client_secret_basic' | 'client_secret_post'
  timeoutMs: number
  fetch?: typeof fetch
  subject?: string
}

/**
 * Asks the endpoint about a random token (RFC 7662 §2.1). An endpoint that accepts the client
 * answers 200 `{"active": false}`; one that does not answers 401 `invalid_client` (RFC 6749 §5.2).
 */
export async function checkIntrospectionClient(probe: IntrospectionClientProbe): Promise<CheckResult> {
  const { endpoint, subject } = probe
  const body = new URLSearchParams({ token: randomBytes(24).toString('base64url'), token_type_hint: 'access_token' })
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }
  if (probe.clientAuth === 'client_secret_post') {
    body.set('client_id', probe.clientId)
    body.set('client_secret', probe.secret)
  } else {
    // RFC 6749 §2.3.1: form-urlencode each part before Basic encoding.
    const pair = `${encodeURIComponent(probe.clientId)}:${encodeURIComponent(probe.secret)}`
    headers.authorization = `Basic ${Buffer.from(pair).toString('base64')}`
  }
  let response: Response
  try {
    response = await (probe.fetch ?? fetch)(endpoint, {
      method: 'POST',
      headers,
      body: body.toString(),
      signal: AbortSignal.timeout(probe.timeoutMs),
    })
  } catch (error) {
    return fail(
      'introspection.client',
      `the introspection endpoint ${endpoint} is unreachable (${describeFetchError(error)})`,
      'make it reachable from the gateway, or correct MCP_INTROSPECT_ENDPOINT',
      subject,
    )
  }
  const text = await response.text()
  if (response.status === 401 || response.status === 403 || (response.status === 400 && text.includes('invalid_client'))) {
    return fail(
      'introspection.client',
      `${endpoint} refused client "${probe.clientId}" (HTTP ${response.status})`,
      'check MCP_CLIENT_ID and the secret in MCP_CLIENT_SECRET_FILE, the client authentication method, and that the ' +
        'authorization server lets this client introspect',
      subject,
    )
  }
  if (response.status !== 200) {
    return fail('introspection.client', `${endpoint} answered HTTP ${response.status}`, 'correct MCP_INTROSPECT_ENDPOINT', subject)
  }
  let answer: unknown
  try {
    answer = JSON.parse(text)
  } catch {
    return fail('introspection.client', `${endpoint} did not answer JSON`, 'correct MCP_INTROSPECT_ENDPOINT', subject)
  }
  const active = (answer as { active?: unknown } | null)?.active
  if (active === false) return ok('introspection.client', `${endpoint} accepts client "${probe.clientId}"`, subject)
  return fail(
    'introspection.client',
    `${endpoint} answered ${active === true ? '"active": true for a random token' : 'without a boolean "active"'}`,
    'point MCP_INTROSPECT_ENDPOINT at an RFC 7662 introspection endpoint',
    subject,
  )
}

/** Every introspection check of one authorization server (only called when it introspects). */
export async function checkIntrospection(
  as: ResolvedAuthorizationServer,
  index: number,
  settings: ResolvedIntrospection,
  metadata: AuthorizationServerMetadata | undefined,
  options: { fetch?: typeof fetch } = {},
): Promise<CheckResult[]> {
  const subject = as.issuer
  const results: CheckResult[] = [checkIntrospectionCacheTtl(settings.cacheMaxTtl, subject)]
  results.push(await checkSecretFile('introspection.secret-file', settings.clientSecretFile, 'client secret file'))

  const endpoint = settings.endpoint ?? (typeof metadata?.introspection_endpoint === 'string' ? metadata.introspection_endpoint : undefined)
  if (endpoint === undefined) {
    results.push(
      fail(
        'introspection.endpoint',
        'no introspection endpoint: none configured and none in the metadata',
        `set ${settingName(index, 'introspection.endpoint', 'MCP_INTROSPECT_ENDPOINT')}`,
        subject,
      ),
    )
    return results
  }
  const insecure = checkHttpsUrl('introspection.endpoint', endpoint, 'introspection endpoint', subject)
  if (insecure !== undefined) results.push(insecure)
  if (insecure?.status === 'fail') return results
  results.push(
    await checkIntrospectionClient({
      endpoint,
      clientId: settings.clientId,
      secret: settings.clientSecret.reveal(),
      clientAuth: settings.authMethod,
      timeoutMs: as.httpTimeout,
      fetch: options.fetch,
      subject,
    }),
  )
  return results
}
