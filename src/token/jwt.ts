import { decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose'
import type { ResolvedAuthorizationServer } from './authorization-server-schema.js'
import { GatewayError, InvalidToken, VerifierUnavailable, type FailureReason } from '../errors.js'
import { createAudienceCheck } from './audience.js'
import { createKeySource } from './key-source.js'
import type { Principal, TokenVerifier } from './principal.js'
import { readScopes } from './scopes-claim.js'

/** RFC 9068 §2.1 `typ` values, and the generic ones many authorization servers still send. */
const ACCEPTED_TYP = new Set(['at+jwt', 'application/at+jwt', 'jwt', 'application/jwt'])

export interface JwtVerifierOptions {
  /** The canonical URI; a token's `aud` must name it (RFC 8707 §2). */
  canonicalUri: string
}

/**
 * JWT access tokens (RFC 9068) of one issuer: signature against its keys, an algorithm allowlist,
 * `iss`, `exp` (required), `nbf` and `iat` with the configured skew, `typ`, and `aud` bound to
 * the canonical URI.
 */
export function createJwtVerifier(as: ResolvedAuthorizationServer, options: JwtVerifierOptions): TokenVerifier {
  const keys = createKeySource(as)
  const audienceOk = createAudienceCheck([options.canonicalUri, ...as.audiences])
  const skewSeconds = Math.round(as.clockSkew / 1000)
  const verifyOptions = {
    // Every `iss` this server signs with (Entra's v1 and v2 issuers share one key set).
    issuer: [...as.acceptedIssuers],
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
      // RFC 7515 §4.1.9: `typ` is a string; any other JSON value is not an access token's header.
      if (typ !== undefined && (typeof typ !== 'string' || !ACCEPTED_TYP.has(typ.toLowerCase()))) {
        throw new InvalidToken('token_type', 'The token is not an access token')
      }
      let payload: JWTPayload
      try {
        payload = (await jwtVerify(token, keys.getKey, verifyOptions)).payload
      } catch (error) {
        throw translateJoseError(error)
      }
      // jose checks `iat` only with maxTokenAge; a token minted in the future is not yet valid.
      if (typeof payload.iat === 'number' && payload.iat > Date.now() / 1000 + skewSeconds) {
        throw new InvalidToken('not_yet_valid', 'The token is not valid yet')
      }
      if (!audienceOk(payload.aud)) throw new InvalidToken('audience', 'The token was not issued for this resource')
      return {
        issuer: as.issuer,
        subject: typeof payload.sub === 'string' ? payload.sub : undefined,
        clientId: clientIdOf(payload),
        scopes: readScopes(payload, as.scopeClaim),
        expiresAt: payload.exp as number,
        claims: payload,
      }
    },
    warmUp: () => keys.warmUp(),
    ready: () => keys.ready(),
    ...(keys.onKeysRemoved === undefined ? {} : { onKeysRemoved: keys.onKeysRemoved }),
    async close() {
      keys.close?.()
    },
  }
}

function clientIdOf(payload: JWTPayload): string | undefined {
  for (const claim of ['client_id', 'azp', 'cid', 'appid']) {
    const value = payload[claim]
    if (typeof value === 'string') return value
  }
  return undefined
}

/** The one place jose's error codes become wire answers (matched on `code`, not class). */
export function translateJoseError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error
  const { code, claim, reason } = error as { code?: string; claim?: string; reason?: string }
  const invalid = (reason: FailureReason, description: string) => new InvalidToken(reason, description, { cause: error })
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return invalid('expired', 'The token has expired')
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      // jose's `reason`: `invalid` is a claim of the wrong type (`"exp": "soon"`), which is neither
      // a missing expiry nor a timing failure.
      if (reason === 'invalid') return invalid('malformed_token', 'The token is malformed')
      if (claim === 'nbf' || claim === 'iat') return invalid('not_yet_valid', 'The token is not valid yet')
      if (claim === 'iss') return invalid('issuer', 'The token was issued by an untrusted issuer')
      if (claim === 'exp') return invalid('missing_claim', 'The token has no expiry')
      return invalid('missing_claim', 'The token lacks a required claim')
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return invalid('signature', 'The token signature is invalid')
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return invalid('unknown_key', 'The token was signed with an unknown key')
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return invalid('algorithm', 'The token uses an algorithm that is not allowed')
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
    case 'ERR_JWT_CLAIM_INVALID':
      return invalid('malformed_token', 'The token is malformed')
    case 'ERR_JWKS_TIMEOUT':
    case 'ERR_JWKS_INVALID':
      return new VerifierUnavailable('Token verification keys are unavailable', error)
    default:
      // What remains comes from fetching keys (jose's ERR_JOSE_GENERIC for a non-200 or non-JSON
      // JWKS, a TypeError from fetch): the token was not judged, so no 401.
      return new VerifierUnavailable('Token verification keys are unavailable', error)
  }
}
