import type { Principal } from '../token/principal.js'

/**
 * The value of `claim` for the verified caller: `sub`, `client_id`, `scope` and `iss` as the
 * verifier read them (whatever the token's own claim names: `scp`, `azp`, ...), any other claim
 * as the token has it. Arrays of strings become one space-separated string (as `scope` is,
 * RFC 8693 §4.2); objects are not copied.
 */
export function claimValue(principal: Principal, claim: string): string | number | boolean | undefined {
  switch (claim) {
    case 'sub':
      return principal.subject
    case 'client_id':
      return principal.clientId
    case 'scope':
      return principal.scopes.size === 0 ? undefined : [...principal.scopes].join(' ')
    case 'iss':
      return principal.issuer
  }
  const value = principal.claims[claim]
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value.join(' ')
  return undefined
}
