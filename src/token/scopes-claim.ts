/**
 * Scopes from a token: `scope` as a space-separated string (RFC 9068 §2.2.3, RFC 8693 §4.2), or
 * `scp` as a string or an array (Entra ID, Okta). The claim name is configurable; when the
 * configured claim is `scope` and absent, `scp` is read.
 */
export function readScopes(claims: Readonly<Record<string, unknown>>, claimName: string): ReadonlySet<string> {
  let value = claims[claimName]
  if (value === undefined && claimName === 'scope') value = claims.scp
  if (typeof value === 'string') return new Set(value.split(' ').filter((s) => s !== ''))
  if (Array.isArray(value)) return new Set(value.filter((s): s is string => typeof s === 'string' && s !== ''))
  return new Set()
}
