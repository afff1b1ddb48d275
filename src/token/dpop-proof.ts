import { hash } from 'node:crypto'
import { TokenCache } from '../common/token-cache.js'
import { InvalidDpopProof } from '../errors.js'
import { importProofKey, verifiesWith, type ProofKey } from './proof-key.js'
import { JWS_COMPACT } from './router.js'

/**
 * RFC 9449 §4.3: the checks a resource server makes on a DPoP proof, as one function (the clock is
 * a parameter; checked headers, with their imported keys, are kept). Replay (`jti` seen before), the token's key binding and nonces are the
 * caller's: they need state or the verified token.
 */

/** Larger `DPoP` headers are refused unread; a proof with an RSA-4096 key is about 1.6 KiB. */
const MAX_PROOF_BYTES = 8 * 1024

/** Proof headers (one per client key) kept checked and imported. */
const HEADER_CACHE_SIZE = 1_000

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
  const [encodedHeader, encodedPayload, encodedSignature] = proof.split('.') as [string, string, string]
  const header = proofHeader(encodedHeader, expect.algorithms)
  if (!verifiesWith(header.key, `${encodedHeader}.${encodedPayload}`, Buffer.from(encodedSignature, 'base64url'))) {
    throw invalid('The DPoP proof signature is invalid')
  }
  const payload = decodeSegment(encodedPayload)

  const { jti, htm, htu, iat, ath, nonce } = payload
  if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_LENGTH) throw invalid('The DPoP proof has no valid jti')
  if (htm !== expect.method) throw invalid('The DPoP proof was made for another method')
  if (typeof htu !== 'string' || !sameHtu(htu, expect.uri)) throw invalid('The DPoP proof was made for another URI')
  if (typeof iat !== 'number' || !Number.isFinite(iat) || Math.abs(expect.nowSeconds - iat) > expect.maxAgeSeconds) {
    throw invalid('The DPoP proof is outside its time window')
  }
  if (ath !== accessTokenHash(expect.accessToken)) throw invalid('The DPoP proof was made for another access token')
  if (nonce !== undefined && typeof nonce !== 'string') throw invalid('The DPoP proof is malformed')

  return { jkt: header.key.jkt, jti, iat, nonce }
}

interface ProofHeader {
  readonly alg: string
  readonly key: ProofKey
}

/**
 * A client signs every proof with one key under one header, so a header that passed its checks is
 * kept by its encoded form (public data: a key and an `alg`): the next proof skips the decoding,
 * the thumbprint and the key import, and pays only its signature check.
 */
const headers = new TokenCache<ProofHeader>(HEADER_CACHE_SIZE)

/** The RFC 9449 §4.3 header checks (points 4-7), in a fixed order so each defect has one description. */
function proofHeader(encoded: string, algorithms: readonly string[]): ProofHeader {
  const known = headers.get(encoded, 0)
  if (known !== undefined) {
    if (!algorithms.includes(known.alg)) throw invalid('The DPoP proof uses an algorithm that is not allowed')
    return known
  }
  const header = decodeSegment(encoded)
  if (header.typ !== 'dpop+jwt') throw invalid('The DPoP proof has the wrong type')
  // Never `none` nor an HMAC: the allowlist holds asymmetric algorithms only (RFC 9449 §4.2).
  const alg = header.alg
  if (typeof alg !== 'string' || !algorithms.includes(alg)) throw invalid('The DPoP proof uses an algorithm that is not allowed')
  const jwk = header.jwk
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw invalid('The DPoP proof carries no public key')
  if (PRIVATE_MEMBERS.some((member) => member in jwk)) throw invalid('The DPoP proof carries a private key')
  // RFC 7515 §4.1.11: an extension this check does not know must not be ignored.
  if (header.crit !== undefined) throw invalid('The DPoP proof is malformed')
  let key: ProofKey
  try {
    key = importProofKey(alg, jwk as Record<string, unknown>)
  } catch (error) {
    throw invalid('The DPoP proof carries no usable public key', error)
  }
  const checked = { alg, key }
  headers.set(encoded, checked, Number.POSITIVE_INFINITY)
  return checked
}

/** A base64url JSON object segment (RFC 7515 §7.1); anything else is a malformed proof. */
function decodeSegment(segment: string): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'))
  } catch (error) {
    throw invalid('The DPoP proof is malformed', error)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('The DPoP proof is malformed')
  return value as Record<string, unknown>
}

/** The expected URI's normal form, kept: it is the same on every request of a handler. */
let expected: { uri: string; normal: string | undefined } = { uri: '', normal: undefined }

function sameHtu(htu: string, uri: string): boolean {
  if (expected.uri !== uri) expected = { uri, normal: normalizeHtu(uri) }
  if (expected.normal === undefined) return false
  return htu === uri || normalizeHtu(htu) === expected.normal
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
