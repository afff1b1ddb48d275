import type { GatewayError } from '../errors.js'

/**
 * Builds the one `WWW-Authenticate: Bearer ...` value for a 401 or 403 (RFC 6750 §3).
 *
 * Attribute order is part of the contract: the MCP SDK client regex-matches the first `scope=` and
 * `resource_metadata=` anywhere in the header, so both come before `error_description`. With no
 * credentials there is no `error` attribute (RFC 6750 §3.1).
 */
export function buildChallenge(error: GatewayError, resourceMetadata: string, scope: readonly string[]): string {
  const params: string[] = []
  if (error.bearerError !== undefined) params.push(`error=${quote(error.bearerError)}`)
  const scopeValue = scope.join(' ')
  if (error.bearerError === undefined) {
    // The anchor's no-credentials form: resource_metadata first, then scope (RFC 9728 §5.1).
    params.push(`resource_metadata=${quote(resourceMetadata)}`)
    if (scopeValue !== '') params.push(`scope=${quote(scopeValue)}`)
  } else {
    if (scopeValue !== '') params.push(`scope=${quote(scopeValue)}`)
    params.push(`resource_metadata=${quote(resourceMetadata)}`)
    params.push(`error_description=${quote(error.description)}`)
  }
  return `Bearer ${params.join(', ')}`
}

/** RFC 9110 §5.6.4 quoted-string: backslash-escape `"` and `\`; drop control characters. */
export function quote(value: string): string {
  return `"${value.replace(/[\u0000-\u001f\u007f]/g, '').replace(/["\\]/g, '\\$&')}"`
}
