import { decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose'
import type { ResolvedAuthorizationServer } from '../config/normalize.js'
import { InvalidToken } from '../errors.js'
import { createAudienceCheck } from './audience.js'
import { translateJoseError } from './jwt.js'
import type { Principal, TokenVerifier } from './principal.js'
import { readScopes } from './scopes-claim.js'

export const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const

/** RFC 7518 §3.2: "A key of the same size as the hash output ... or larger MUST be used". */
const MIN_KEY_BYTES: Readonly<Record<string, number>> = { HS256: 32, HS384: 48, HS512: 64 }

/** RFC 9068 §2.1 `typ` values, and the generic ones many authorization servers still send. */
const ACCEPTED_TYP = new Set(['at+jwt', 'application/at+jwt', 'jwt', 'application/jwt'])

/** A problem text when the secret is too short for one of the algorithms, else `undefined`. */
export function checkHmacKeyLength(byteLength: number, algorithms: readonly string[]): string | undefined {
  const needed = Math.max(0, ...algorithms.map((alg) => MIN_KEY_BYTES[alg] ?? 0))
  if (byteLength >= needed) return undefined
  return `holds ${byteLength} bytes; ${algorithms.join(', ')} need at least ${needed} (RFC 7518 §3.2)`
}

/**
 * JWTs signed with a shared secret (HS256/384/512), for development against an authorization
 * server that signs that way. Only an explicitly configured secret file enables this (never a
 * public key used as a secret: the algorithm list of such an issuer holds HMAC only, and every
 * other issuer's list holds none), and the gateway says at start that it is for development: any
 * holder of the secret can mint tokens. The checks are those of `createJwtVerifier`.
 */
export function createHmacJwtVerifier(
  as: ResolvedAuthorizationServer,
  options: { canonicalUri: string; expectedIssuer: string },
): TokenVerifier {
  const secret = as.hmacSecret
  if (secret === undefined) throw new TypeError('createHmacJwtVerifier: the authorization server has no hmacSecret')
  const key = new TextEncoder().encode(secret.reveal())
  const audienceOk = createAudienceCheck([options.canonicalUri, ...as.audiences])
  const skewSeconds = Math.round(as.clockSkew / 1000)
  const verifyOptions = {
    issuer: options.expectedIssuer,
    algorithms: as.algorithms,
    clockTolerance: skewSeconds,
    requiredClaims: ['exp'],
  }

  return {
    async verify(token: string): Promise<Principal> {
      let typ: unknown
      try {
        typ = decodeProtectedHeader(token).typ
      } catch (error) {
        throw new InvalidToken('malformed_token', 'The token is malformed', { cause: error })
      }
      if (typeof typ === 'string' && !ACCEPTED_TYP.has(typ.toLowerCase())) {
        throw new InvalidToken('token_type', 'The token is not an access token')
      }
      let payload: JWTPayload
      try {
        payload = (await jwtVerify(token, key, verifyOptions)).payload
      } catch (error) {
        throw translateJoseError(error)
      }
      if (typeof payload.iat === 'number' && payload.iat > Date.now() / 1000 + skewSeconds) {
        throw new InvalidToken('not_yet_valid', 'The token is not valid yet')
      }
      if (!audienceOk(payload.aud)) throw new InvalidToken('audience', 'The token was not issued for this resource')
      return {
        issuer: as.issuer,
        subject: typeof payload.sub === 'string' ? payload.sub : undefined,
        clientId: typeof payload['client_id'] === 'string' ? payload['client_id'] : typeof payload.azp === 'string' ? payload.azp : undefined,
        scopes: readScopes(payload, as.scopeClaim),
        expiresAt: payload.exp as number,
        claims: payload,
      }
    },
    warmUp: async () => true,
    ready: () => true,
  }
}
