import { createHash } from 'node:crypto'
import { InvalidToken } from '../errors.js'
import type { Principal } from '../token/principal.js'
import type { AlgorithmName } from './algorithms.js'
import type { Limit } from './rate.js'

/**
 * Who is counted: the token's `sub` within its issuer (two issuers may reuse a `sub`). A token
 * without `sub` gets 401 by default, as nginx-mcp-resource does: a limiter keyed on an empty value
 * would let such tokens through unlimited (the anchor's own issue 005). `client_id` mode counts it
 * under its client instead.
 *
 * The identity is hashed: store keys never hold a subject (often an e-mail address) and have a
 * bounded length whatever the claim holds.
 */
export function principalKey(principal: Principal, missingSubject: 'reject' | 'client_id'): string {
  let identity: [string, string, string]
  if (principal.subject !== undefined && principal.subject !== '') {
    identity = [principal.issuer, 'sub', principal.subject]
  } else if (missingSubject === 'client_id' && principal.clientId !== undefined && principal.clientId !== '') {
    identity = [principal.issuer, 'client_id', principal.clientId]
  } else {
    throw new InvalidToken('missing_claim', 'The access token has no subject, which rate limiting needs')
  }
  return createHash('sha256').update(JSON.stringify(identity)).digest('base64url').slice(0, 22)
}

/** The OAuth client a token was issued to, within its issuer, hashed as `principalKey`; `undefined` without one. */
export function clientKey(principal: Principal): string | undefined {
  if (principal.clientId === undefined || principal.clientId === '') return undefined
  return `client.${createHash('sha256').update(JSON.stringify([principal.issuer, 'client', principal.clientId])).digest('base64url').slice(0, 22)}`
}

/**
 * `<prefix>:{<principal>}:<policy>:<algorithm>:<requests>/<periodMs>/<burst>`. The braces are a
 * Redis hash tag, so every key of one request lands in one cluster slot and one script can check
 * them together. The algorithm and the numbers are part of the key: state of another algorithm
 * or another rate is never misread after a configuration change, it is simply not found.
 */
export function storeKey(prefix: string, principal: string, policy: string, algorithm: AlgorithmName, limit: Limit): string {
  return `${prefix}:{${principal}}:${policy}:${algorithm}:${limit.requests}/${limit.periodMs}/${limit.burst}`
}
