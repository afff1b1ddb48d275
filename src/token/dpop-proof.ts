import { hash } from 'node:crypto'
import { decodeProtectedHeader } from 'jose'
import { InvalidDpopProof } from '../errors.js'
import { ProofKeyError, verifyWithEmbeddedKey } from './proof-key.js'
import { JWS_COMPACT } from './router.js'

/**
 * RFC 9449 §4.3: the checks a resource server makes on a DPoP proof, as one function (the clock is
 * a parameter; proof-key.ts keeps recently seen client keys). Replay (`jti` seen before), the token's key binding and nonces are the
 * caller's: they need state or the verified token.
 */

/** Larger `DPoP` headers are refused unread; a proof with an RSA-4096 key is about 1.6 KiB. */
const MAX_PROOF_BYTES = 8 * 1024

/** Longest `jti` kept in the replay cache; RFC 9449 §4.2 asks for 96 bits of randomness, far less. */
const MAX_JTI_LENGTH = 256

/** JWK members that only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4.1). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const

export interface DpopProofExpectation {
  /** The request's HTTP method (`htm`). */
  method: string
  /** The request URI as the client addressed it (`htu`); query and fragment are ignored. */
  uri: string
  /** The access token sent with the proof; `ath` must be its SHA-256 (RFC 9449 §4.2). */
  accessToken: string
  /** Accepted `alg` values, asymmetric only. */
  algorithms: readonly string[]
  /** How far `iat` may lie from now, either way, in seconds. */
  maxAgeSeconds: number
  nowSeconds: number
}

export interface DpopProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's public key: what `cnf.jkt` must equal. */
  readonly jkt: string
  readonly jti: string
  readonly iat: number
  /** The `nonce` claim, when the proof carries one (RFC 9449 §8). */
  readonly nonce: string | undefined
}

/** Checks one proof against the request it came with; throws `InvalidDpopProof` with a fixed description. */
export async function checkDpopProof(proof: string, expect: DpopProofExpectation): Promise<DpopProof> {
  if (proof.length > MAX_PROOF_BYTES) throw invalid('The DPoP proof is too large')
  if (!JWS_COMPACT.test(proof)) throw invalid('The DPoP proof is malformed')
  let header: ReturnType<typeof decodeProtectedHeader>
  try {
    header = decodeProtectedHeader(proof)
  } catch (error) {
    throw invalid('The DPoP proof is malformed', error)
  }
  if (header.typ !== 'dpop+jwt') throw invalid('The DPoP proof has the wrong type')
  // Never `none` nor an HMAC: the allowlist holds asymmetric algorithms only (RFC 9449 §4.2).
  if (typeof header.alg !== 'string' || !expect.algorithms.includes(header.alg)) {
    throw invalid('The DPoP proof uses an algorithm that is not allowed')
  }
  const jwk = header.jwk
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw invalid('The DPoP proof carries no public key')
  if (PRIVATE_MEMBERS.some((member) => member in jwk)) throw invalid('The DPoP proof carries a private key')

  // RFC 7515 §4.1.11: an extension this check does not know must not be ignored.
  if (header.crit !== undefined) throw invalid('The DPoP proof is malformed')
  const [encodedHeader, encodedPayload, encodedSignature] = proof.split('.') as [string, string, string]
  let jkt: string
  try {
    jkt = verifyWithEmbeddedKey(header.alg, jwk as Record<string, unknown>, `${encodedHeader}.${encodedPayload}`, Buffer.from(encodedSignature, 'base64url'))
  } catch (error) {
    const problem = error instanceof ProofKeyError ? error.problem : 'key'
    throw invalid(problem === 'signature' ? 'The DPoP proof signature is invalid' : 'The DPoP proof carries no usable public key', error)
  }
  let payload: Record<string, unknown>
  try {
    payload = JSON.parse(Buffer.from(encodedPayload, 'base64url').toString('utf8')) as Record<string, unknown>
  } catch (error) {
    throw invalid('The DPoP proof is malformed', error)
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw invalid('The DPoP proof is malformed')

  const { jti, htm, htu, iat, ath, nonce } = payload
  if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_LENGTH) throw invalid('The DPoP proof has no valid jti')
  if (htm !== expect.method) throw invalid('The DPoP proof was made for another method')
  if (typeof htu !== 'string' || normalizeHtu(htu) !== normalizeHtu(expect.uri)) {
    throw invalid('The DPoP proof was made for another URI')
  }
  if (typeof iat !== 'number' || !Number.isFinite(iat) || Math.abs(expect.nowSeconds - iat) > expect.maxAgeSeconds) {
    throw invalid('The DPoP proof is outside its time window')
  }
  if (ath !== accessTokenHash(expect.accessToken)) throw invalid('The DPoP proof was made for another access token')
  if (nonce !== undefined && typeof nonce !== 'string') throw invalid('The DPoP proof is malformed')

  return { jkt, jti, iat, nonce }
}

/** RFC 9449 §4.2 `ath`: base64url of the SHA-256 of the access token's ASCII bytes. */
export function accessTokenHash(accessToken: string): string {
  return hash('sha256', accessToken, 'base64url')
}

/**
 * RFC 9449 §4.3 point 9: `htu` compared without query and fragment, after RFC 3986 §6.2.2 and
 * §6.2.3 normalisation (case of scheme and host, default port, dot segments, percent-encoding of
 * unreserved characters), which the WHATWG URL parser performs. An unparsable value matches nothing.
 */
export function normalizeHtu(value: string): string | undefined {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return undefined
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined
  const path = url.pathname.replace(/%[0-9A-Fa-f]{2}/g, (escape) => {
    const char = String.fromCharCode(parseInt(escape.slice(1), 16))
    return UNRESERVED.test(char) ? char : escape.toUpperCase()
  })
  return `${url.protocol}//${url.host}${path === '' ? '/' : path}`
}

const UNRESERVED = /^[A-Za-z0-9\-._~]$/

function invalid(description: string, cause?: unknown): InvalidDpopProof {
  return new InvalidDpopProof('invalid_dpop_proof', description, cause === undefined ? undefined : { cause })
}
