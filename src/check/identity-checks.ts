import { randomBytes } from 'node:crypto'
import type { Config } from '../config/normalize.js'
import { TokenEndpointFailure } from '../identity/exchange-request.js'
import type { ExchangeSettings } from '../identity/settings.js'
import { createTokenEndpointClient, type TokenEndpointClient } from '../identity/token-endpoint.js'
import { fail, ok, warn, type CheckResult } from './result.js'

/** Codes that say "the client was authenticated, the subject token was not good": the credentials work. */
const CLIENT_ACCEPTED = new Set(['invalid_grant', 'invalid_request'])

/**
 * The upstream identity (docs/upstream-identity.md): the assertion key is readable and usable;
 * plain headers are a warning; for an exchange, the token endpoint is found and accepts the
 * gateway's credentials, probed with a random subject token (RFC 6749 §5.2: a client it accepts
 * gets `invalid_grant`, one it does not `invalid_client`). No real token is exchanged.
 */
export interface IdentityCheckOptions {
  /** A real access token: exchanged once, to prove the whole exchange (`check --exchange-token-file`). */
  exchangeToken?: string | undefined
  client?: TokenEndpointClient
}

export async function checkUpstreamIdentity(config: Config, options: IdentityCheckOptions = {}): Promise<CheckResult[]> {
  const identity = config.upstreamIdentity
  switch (identity.mode) {
    case 'none':
      return []
    case 'headers':
      return [
        warn(
          'identity.headers',
          `the backend trusts plain identity headers (${[...identity.headers.keys()].join(', ')})`,
          'let the backend accept connections from the gateway only, or use upstreamIdentity.mode assertion',
        ),
      ]
    case 'assertion':
      return [ok('identity.signing-key', `assertions signed ${identity.key.alg} with kid ${identity.key.kid}, JWKS at /.well-known/jwks.json`)]
    case 'exchange':
      return checkExchange(identity, options.client ?? createTokenEndpointClient(identity), options.exchangeToken)
  }
}

async function checkExchange(settings: ExchangeSettings, client: TokenEndpointClient, exchangeToken: string | undefined): Promise<CheckResult[]> {
  let endpoint: string
  try {
    endpoint = await client.endpoint()
  } catch (error) {
    return [
      fail(
        'identity.token-endpoint',
        `no token endpoint: ${(error as Error).message}`,
        'set upstreamIdentity.exchange.tokenEndpoint, or fix discovery of the first authorization server',
      ),
    ]
  }
  const results = [ok('identity.token-endpoint', `token endpoint ${endpoint}`)]
  try {
    await client.request({ kind: 'exchange', subjectToken: randomBytes(24).toString('base64url'), scope: settings.scope })
    results.push(warn('identity.client', 'the token endpoint exchanged a random subject token', 'check that the exchange grant validates subject tokens'))
  } catch (error) {
    const code = error instanceof TokenEndpointFailure ? error.code : 'error'
    if (error instanceof TokenEndpointFailure && error.kind === 'refused' && CLIENT_ACCEPTED.has(code)) {
      results.push(ok('identity.client', `the token endpoint accepts client ${settings.clientId} (${settings.clientAuth.method}) for ${settings.flavour}`))
    } else {
      results.push(
        fail(
          'identity.client',
          `the token endpoint refused client ${settings.clientId} (${settings.clientAuth.method}): ${code}`,
          'check the client id, the secret file or private key, and that the client may use the token exchange grant',
        ),
      )
    }
  }
  if (exchangeToken !== undefined) {
    try {
      const issued = await client.request({ kind: 'exchange', subjectToken: exchangeToken, scope: settings.scope })
      const lifetime = issued.expiresIn === undefined ? 'no expires_in: each request exchanges again' : `expires_in ${issued.expiresIn}s`
      results.push(ok('identity.exchange', `exchanged the given token for ${settings.audience ?? settings.scope.join(' ')} (${lifetime})`))
    } catch (error) {
      const code = error instanceof TokenEndpointFailure ? error.code : 'error'
      results.push(fail('identity.exchange', `the exchange of the given token failed: ${code}`, 'see docs/troubleshooting.md, identity_refused'))
    }
  }
  return results
}
