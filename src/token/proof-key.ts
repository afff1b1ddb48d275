import { constants, createPublicKey, hash, verify, type KeyObject, type VerifyKeyObjectInput } from 'node:crypto'

/**
 * The embedded-key half of a DPoP proof check: the RFC 7638 thumbprint of the header's `jwk`, and
 * the RFC 7515 signature checked with that key for the proof's `alg`, with node:crypto and
 * synchronously. The import is the costly half; dpop-proof.ts keeps imported keys per header.
 */

interface AlgorithmRule {
  readonly kty: string
  /** Accepted `crv` values (EC and OKP keys). */
  readonly crv?: readonly string[]
  /** Digest for `crypto.verify`; `null` for EdDSA. */
  readonly digest: string | null
  readonly pss?: boolean
}

/** RFC 7518 §3.1 and RFC 8037 §3.1: which key each asymmetric `alg` needs. */
const RULES: Readonly<Record<string, AlgorithmRule>> = {
  ES256: { kty: 'EC', crv: ['P-256'], digest: 'sha256' },
  ES384: { kty: 'EC', crv: ['P-384'], digest: 'sha384' },
  ES512: { kty: 'EC', crv: ['P-521'], digest: 'sha512' },
  EdDSA: { kty: 'OKP', crv: ['Ed25519', 'Ed448'], digest: null },
  Ed25519: { kty: 'OKP', crv: ['Ed25519'], digest: null },
  RS256: { kty: 'RSA', digest: 'sha256' },
  RS384: { kty: 'RSA', digest: 'sha384' },
  RS512: { kty: 'RSA', digest: 'sha512' },
  PS256: { kty: 'RSA', digest: 'sha256', pss: true },
  PS384: { kty: 'RSA', digest: 'sha384', pss: true },
  PS512: { kty: 'RSA', digest: 'sha512', pss: true },
}

/** RFC 7638 §3.2: the required members of each key type, in lexicographic order. */
const THUMBPRINT_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
  RSA: ['e', 'kty', 'n'],
}

/** RFC 7518 §3.3: RSA keys of at least 2048 bits. */
const MIN_RSA_BITS = 2048

export class ProofKeyError extends Error {
  constructor() {
    super('the key cannot verify proofs of this alg')
  }
}

/** A proof's public key, imported and checked for its `alg`: what verifying one signature needs. */
export interface ProofKey {
  /** RFC 7638 SHA-256 thumbprint: what the token's `cnf.jkt` must equal. */
  readonly jkt: string
  readonly digest: string | null
  readonly verifyKey: KeyObject | VerifyKeyObjectInput
}

/** Imports the public `jwk` for `alg`; throws `ProofKeyError` when it cannot sign `alg` proofs. */
export function importProofKey(alg: string, jwk: Record<string, unknown>): ProofKey {
  const rule = RULES[alg]
  const members = THUMBPRINT_MEMBERS[String(jwk['kty'])]
  if (rule === undefined || members === undefined || jwk['kty'] !== rule.kty) throw new ProofKeyError()
  if (rule.crv !== undefined && !rule.crv.includes(String(jwk['crv']))) throw new ProofKeyError()
  // RFC 7517 §4.2 and §4.4: a key that names another use or algorithm is not for this proof.
  if ((jwk['use'] !== undefined && jwk['use'] !== 'sig') || (jwk['alg'] !== undefined && jwk['alg'] !== alg)) {
    throw new ProofKeyError()
  }
  const canonical: Record<string, unknown> = {}
  for (const member of members) {
    if (typeof jwk[member] !== 'string' || jwk[member] === '') throw new ProofKeyError()
    canonical[member] = jwk[member]
  }
  let key: KeyObject
  try {
    key = createPublicKey({ key: canonical as never, format: 'jwk' })
  } catch {
    throw new ProofKeyError()
  }
  if (rule.kty === 'RSA' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS) throw new ProofKeyError()
  return {
    jkt: hash('sha256', JSON.stringify(canonical), 'base64url'),
    digest: rule.digest,
    verifyKey:
      rule.kty === 'EC'
        ? { key, dsaEncoding: 'ieee-p1363' }
        : rule.pss === true
          ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
          : key,
  }
}

/** Whether `signature` (RFC 7515 §5.2) over `signingInput` verifies with `key`. */
export function verifiesWith(key: ProofKey, signingInput: string, signature: Buffer): boolean {
  try {
    return verify(key.digest, Buffer.from(signingInput), key.verifyKey, signature)
  } catch {
    return false
  }
}
