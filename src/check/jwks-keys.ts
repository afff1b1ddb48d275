import { importJWK, type JWK } from 'jose'

const RSA = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']
const EC_BY_CURVE: Readonly<Record<string, string>> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' }

/**
 * The JWS algorithms a JWK can verify (RFC 7517 §4): none when `use` is not `sig` or `key_ops`
 * lacks `verify`; its `alg` when it names one; otherwise what its key type and curve allow.
 */
export function keyAlgorithms(jwk: JWK): string[] {
  if (jwk.use !== undefined && jwk.use !== 'sig') return []
  if (Array.isArray(jwk.key_ops) && !jwk.key_ops.includes('verify')) return []
  if (typeof jwk.alg === 'string') return [jwk.alg]
  if (jwk.kty === 'RSA') return [...RSA]
  if (jwk.kty === 'EC') return typeof jwk.crv === 'string' && EC_BY_CURVE[jwk.crv] !== undefined ? [EC_BY_CURVE[jwk.crv] as string] : []
  if (jwk.kty === 'OKP') return jwk.crv === 'Ed25519' || jwk.crv === 'Ed448' ? ['EdDSA'] : []
  return []
}

export interface KeyFinding {
  readonly kid: string
  /** Allowed algorithms this key verifies; empty when unusable. */
  readonly algorithms: readonly string[]
  readonly problem?: string
}

/**
 * Which keys of a JWKS document verify tokens under the allowed algorithms. Each candidate key is
 * imported with jose, so a malformed key is caught here and not on the first request.
 */
export async function inspectJwks(document: unknown, allowed: readonly string[]): Promise<KeyFinding[] | string> {
  if (typeof document !== 'object' || document === null || !Array.isArray((document as { keys?: unknown }).keys)) {
    return 'not a JWKS (expected {"keys": [...]})'
  }
  const keys = (document as { keys: unknown[] }).keys
  if (keys.length === 0) return 'the key set is empty'
  const allowedSet = new Set(allowed)
  const findings: KeyFinding[] = []
  for (const [i, raw] of keys.entries()) {
    const jwk = (typeof raw === 'object' && raw !== null ? raw : {}) as JWK
    const kid = typeof jwk.kid === 'string' ? jwk.kid : `#${i}`
    const possible = keyAlgorithms(jwk)
    const algorithms = possible.filter((alg) => allowedSet.has(alg))
    if (algorithms.length === 0) {
      const problem = possible.length === 0 ? `not a signature verification key (kty ${String(jwk.kty)})` : `for ${possible.join('/')}, not allowed`
      findings.push({ kid, algorithms: [], problem })
      continue
    }
    if ('d' in jwk) {
      findings.push({ kid, algorithms: [], problem: 'holds private key material' })
      continue
    }
    try {
      await importJWK(jwk, algorithms[0])
      findings.push({ kid, algorithms })
    } catch (error) {
      findings.push({ kid, algorithms: [], problem: `cannot be imported (${(error as Error).message})` })
    }
  }
  return findings
}
