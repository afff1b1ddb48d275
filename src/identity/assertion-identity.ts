import { createPrivateKey, randomUUID } from 'node:crypto'
import { SignJWT } from 'jose'
import { claimValue } from './claims.js'
import type { AssertionSettings } from './settings.js'
import type { IdentityHeaders, UpstreamIdentity } from './upstream-identity.js'

/**
 * A short-lived JWS the gateway signs for each request (RFC 7519): `iss` is the gateway's
 * canonical URI, `aud` the backend, `iat`/`exp`/`jti` fresh, and the configured claims copied
 * from the verified token (its `iss` as `original_iss`, since `iss` names the signer). The
 * backend verifies it against the JWKS the gateway serves at `/.well-known/jwks.json`.
 */
export function createAssertionIdentity(settings: AssertionSettings, gatewayUri: string): UpstreamIdentity {
  const key = createPrivateKey(settings.key.pem.reveal())
  const header = { alg: settings.key.alg, kid: settings.key.kid, typ: 'JWT' }
  const strip: ReadonlySet<string> = new Set([settings.header])
  return {
    mode: 'assertion',
    audience: settings.audience,
    jwks: JSON.stringify({ keys: [settings.key.publicJwk] }),
    async identify({ principal }): Promise<IdentityHeaders> {
      const payload: Record<string, unknown> = {}
      for (const claim of settings.claims) {
        const value = claimValue(principal, claim)
        if (value !== undefined) payload[claim === 'iss' ? 'original_iss' : claim] = value
      }
      const now = Math.floor(Date.now() / 1000)
      const assertion = await new SignJWT(payload)
        .setProtectedHeader(header)
        .setIssuer(gatewayUri)
        .setAudience(settings.audience)
        .setIssuedAt(now)
        // Never past the client token's own expiry: the assertion speaks for that token.
        .setExpirationTime(Math.min(now + settings.lifetimeSeconds, principal.expiresAt))
        .setJti(randomUUID())
        .sign(key)
      return { strip, add: { [settings.header]: assertion } }
    },
  }
}
