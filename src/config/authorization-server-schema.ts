import { z } from 'zod'
import { duration, list } from './units.js'

/** Asymmetric algorithms accepted by default. `none` is never accepted; HMAC only with a secret. */
export const DEFAULT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']
const ASYMMETRIC = new Set(DEFAULT_ALGORITHMS)

export const authorizationServerSchema = z
  .object({
    issuer: z
      .string()
      .min(1)
      .describe(
        'The authorization server, exactly as it publishes its `issuer` (listed byte for byte in ' +
          '`authorization_servers`; strict clients compare it). Env: `MCP_AUTHORIZATION_SERVER`.',
      ),
    expectedIssuer: z
      .string()
      .min(1)
      .optional()
      .describe('Expected `iss` claim. Default: `issuer` exactly. Env: `MCP_ISSUER`.'),
    mode: z
      .enum(['jwt'])
      .default('jwt')
      .describe('How tokens of this issuer are validated. Env: `MCP_AUTH_MODE`.'),
    jwksFile: z.string().min(1).optional().describe('Path of a local JWKS file. Env: `MCP_JWT_KEY_FILE`.'),
    jwksUri: z.url({ protocol: /^https?$/ }).optional().describe('JWKS URL, fetched and cached. Env: `MCP_JWKS_URI`.'),
    discovery: z
      .boolean()
      .default(false)
      .describe(
        "Find `jwks_uri` in the issuer's RFC 8414 or OIDC discovery document (both path-insertion " +
          'forms). Env: `MCP_JWT_DISCOVERY=on`.',
      ),
    algorithms: list
      .default(DEFAULT_ALGORITHMS)
      .describe('Allowed JWS algorithms. `none` is refused; HMAC (HS*) is refused with public keys.'),
    audiences: list
      .default([])
      .describe('Audiences accepted besides the canonical URI (explicit, e.g. `api://my-app`). Env: `MCP_EXTRA_AUDIENCES`.'),
    scopeClaim: z
      .string()
      .default('scope')
      .describe('Claim holding the scopes: a space-separated string, or an array. `scp` is read when it is absent.'),
    clockSkew: duration.prefault(30).describe('Tolerance for `exp`, `nbf` and `iat`. Env: `MCP_CLOCK_SKEW`.'),
    jwksCooldown: duration
      .prefault(30)
      .describe('Least time between two JWKS fetches caused by an unknown `kid`. Env: `MCP_JWKS_COOLDOWN`.'),
    jwksCacheMaxAge: duration.prefault(600).describe('How long fetched keys are trusted before a refetch.'),
    httpTimeout: duration.prefault(5).describe('Timeout of calls to the authorization server (discovery, JWKS).'),
  })
  .superRefine((as, ctx) => {
    if (as.mode === 'jwt' && as.jwksFile === undefined && as.jwksUri === undefined && !as.discovery) {
      ctx.addIssue({
        code: 'custom',
        path: ['mode'],
        message:
          'jwt mode needs a key source: set MCP_JWT_KEY_FILE (a JWKS file), MCP_JWKS_URI, or ' +
          "MCP_JWT_DISCOVERY=on to find jwks_uri in the authorization server's metadata",
      })
    }
    for (const alg of as.algorithms) {
      if (alg.toLowerCase() === 'none') {
        ctx.addIssue({ code: 'custom', path: ['algorithms'], message: 'the "none" algorithm is never allowed' })
      } else if (!ASYMMETRIC.has(alg)) {
        ctx.addIssue({
          code: 'custom',
          path: ['algorithms'],
          message: `unsupported algorithm "${alg}" (allowed: ${DEFAULT_ALGORITHMS.join(', ')})`,
        })
      }
    }
  })

export type AuthorizationServerConfig = z.output<typeof authorizationServerSchema>
