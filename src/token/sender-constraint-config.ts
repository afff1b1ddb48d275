import { z } from 'zod'
import { list, onOff } from '../common/units.js'

/** Asymmetric JWS algorithms a DPoP proof may use (RFC 9449 §4.2: never `none`, never a MAC). */
export const DPOP_ALGORITHMS = ['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'] as const

const mode = z.enum(['off', 'optional', 'required'])

/** The file's `senderConstraint` section (docs/sender-constrained-tokens.md). */
export const senderConstraintSchema = z.strictObject({
  dpop: mode
    .default('optional')
    .describe(
      'DPoP (RFC 9449): `off` (the `DPoP` scheme is not accepted), `optional` (Bearer and DPoP; a token bound ' +
        'with `cnf.jkt` needs its proof), or `required` (every token must be DPoP-bound). Env: `MCP_DPOP`.',
    ),
  dpopAlgorithms: list
    .pipe(z.array(z.enum(DPOP_ALGORITHMS)).min(1))
    .default(['ES256', 'EdDSA', 'RS256', 'PS256'])
    .describe('`alg` values a DPoP proof may use, asymmetric only; advertised as `dpop_signing_alg_values_supported`.'),
  proofMaxAgeSeconds: z.coerce
    .number()
    .int()
    .min(1)
    .max(3600)
    .default(300)
    .describe('How far a proof\'s `iat` may lie from now, either way, in seconds; proof `jti`s are remembered twice as long.'),
  nonce: onOff
    .default(false)
    .describe(
      'Server-issued DPoP nonces (RFC 9449 §9): a proof without a fresh nonce gets 401 `use_dpop_nonce` and a ' +
        '`DPoP-Nonce` to retry with. Stateless: the nonce is its issue time sealed with an HMAC, valid for `proofMaxAgeSeconds`.',
    ),
  nonceSecretFile: z
    .string()
    .min(1)
    .optional()
    .describe('File holding the key that seals nonces (at least 32 bytes), shared by every replica; unset: a random key per process.'),
  replayCacheSize: z.coerce
    .number()
    .int()
    .min(1)
    .default(100_000)
    .describe('Most proof `jti`s remembered in memory (without Redis); a full cache counts as unavailable.'),
  replayCacheOnError: z
    .enum(['deny', 'allow'])
    .default('deny')
    .describe(
      'When the replay cache cannot answer (Redis down or slow, memory cache full): `deny` answers 503 with ' +
        '`Retry-After`; `allow` accepts the proof unchecked for replay.',
    ),
  mtls: mode
    .default('off')
    .describe(
      'Certificate-bound tokens (RFC 8705): `off` (a token with `cnf.x5t#S256` is refused), `optional` (client ' +
        'certificates requested; a bound token needs the matching one), `required` (the TLS handshake requires a ' +
        'client certificate). Needs `tls.clientCaFile` or `forwardedCertificateHeader`. Env: `MCP_MTLS_BOUND_TOKENS`.',
    ),
  forwardedCertificateHeader: z
    .string()
    .regex(/^[A-Za-z0-9-]+$/, 'must be a header name')
    .optional()
    .describe(
      'Header in which a TLS-terminating proxy passes the client certificate (URL-encoded PEM, as nginx ' +
        '`$ssl_client_escaped_cert` and Envoy `X-Forwarded-Client-Cert` `Cert=`); read only from `MCP_TRUSTED_PROXIES` (`trustedProxies`).',
    ),
})

export type SenderConstraintSettings = z.output<typeof senderConstraintSchema>
