import { createLocalJWKSet, jwtVerify } from 'jose'
import type { JWK } from 'jose'
import type Provider from 'oidc-provider'
import { errors } from 'oidc-provider'
import type { ResourceOptions } from './authorization-server.js'

// The test AS's side of issue 15: an RFC 8693 token-exchange grant and an Entra-style
// On-Behalf-Of grant (jwt-bearer with requested_token_use=on_behalf_of), registered with
// oidc-provider's `registerGrantType`. Both verify the incoming user token against the AS's own
// keys and issue a JWT access token for the downstream resource whose `sub` is the user's.

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'

/** What the test AS does with exchanges, and what it saw. */
export interface ExchangeGrantOptions {
  /** Refuses an exchange with this OAuth error when it returns one (consent tests). */
  refuse?: (params: Record<string, string | undefined>) => 'invalid_grant' | 'consent_required' | 'interaction_required' | 'invalid_scope' | undefined
  /** Milliseconds each exchange waits before answering (single-flight tests). */
  delayMs?: number
}

export interface ExchangeLedger {
  /** Successful and refused exchanges per grant type. */
  readonly counts: Map<string, number>
  /** Every `subject_token`/`assertion` received, to prove what reached the AS (and nothing else did). */
  readonly subjectTokens: string[]
}

/** RFC 8693 §4.1 `act` of tokens issued with an actor token; oidc-provider asks through `extraTokenClaims`. */
const ACTORS = new WeakMap<object, Record<string, unknown>>()

/** For the AS's `extraTokenClaims`: the `act` claim of an exchanged token, if any. */
export function exchangeTokenClaims(token: object): Record<string, unknown> | undefined {
  return ACTORS.get(token)
}

type Ctx = {
  oidc: {
    params: Record<string, string | undefined>
    client: { clientId: string }
    provider: Provider & {
      AccessToken: new (init: Record<string, unknown>) => { resourceServer: unknown; extra?: Record<string, unknown>; save(): Promise<string>; expiration: number; scope?: string }
      ResourceServer: new (identifier: string, info: Record<string, unknown>) => unknown
    }
  }
  body: unknown
}

export function registerExchangeGrants(
  provider: Provider,
  issuer: string,
  publicKeys: () => JWK[],
  resources: Record<string, ResourceOptions>,
  options: ExchangeGrantOptions,
  ledger: ExchangeLedger,
): void {
  const register = provider as unknown as { registerGrantType(name: string, handler: (ctx: Ctx) => Promise<void>, params: string[]): void }

  async function verifyUserToken(token: string | undefined, what: string): Promise<Record<string, unknown>> {
    if (token === undefined) throw new errors.InvalidRequest(`missing ${what}`)
    try {
      const { payload } = await jwtVerify(token, createLocalJWKSet({ keys: publicKeys() }), { issuer })
      return payload
    } catch {
      throw new errors.InvalidGrant(`${what} is invalid`)
    }
  }

  async function issue(ctx: Ctx, grantType: string, resource: string, subject: string, requested: string[], act?: string): Promise<void> {
    const info = resources[resource]
    if (info === undefined) throw new errors.InvalidTarget()
    const allowed = new Set(info.scope.split(' '))
    if (requested.some((s) => !allowed.has(s))) throw new errors.InvalidScope('requested scope is not allowed', requested.join(' '))
    const refusal = options.refuse?.(ctx.oidc.params)
    if (refusal !== undefined) {
      const Refusal = {
        invalid_grant: errors.InvalidGrant,
        consent_required: errors.ConsentRequired,
        interaction_required: errors.InteractionRequired,
        invalid_scope: errors.InvalidScope,
      }[refusal] as unknown as new (description: string) => Error
      throw new Refusal('refused by the test')
    }
    if (options.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, options.delayMs))
    const { AccessToken, ResourceServer } = ctx.oidc.provider
    const token = new AccessToken({
      accountId: subject,
      client: ctx.oidc.client,
      gty: grantType,
      scope: requested.join(' ') || undefined,
    })
    token.resourceServer = new ResourceServer(resource, {
      scope: info.scope,
      accessTokenFormat: 'jwt',
      accessTokenTTL: info.ttlSeconds ?? 3600,
      jwt: { sign: { alg: info.alg ?? 'RS256' } },
    })
    if (act !== undefined) ACTORS.set(token, { act: { sub: act } })
    const value = await token.save()
    ctx.body = {
      access_token: value,
      issued_token_type: grantType === TOKEN_EXCHANGE ? ACCESS_TOKEN_TYPE : undefined,
      token_type: 'Bearer',
      expires_in: token.expiration,
      scope: token.scope,
    }
  }

  function count(grantType: string): void {
    ledger.counts.set(grantType, (ledger.counts.get(grantType) ?? 0) + 1)
  }

  // RFC 8693 §2.1.
  register.registerGrantType(
    TOKEN_EXCHANGE,
    async (ctx) => {
      const p = ctx.oidc.params
      count(TOKEN_EXCHANGE)
      ledger.subjectTokens.push(p['subject_token'] ?? '')
      if (p['subject_token_type'] !== ACCESS_TOKEN_TYPE) throw new errors.InvalidRequest('unsupported subject_token_type')
      if (p['requested_token_type'] !== undefined && p['requested_token_type'] !== ACCESS_TOKEN_TYPE) {
        throw new errors.InvalidRequest('unsupported requested_token_type')
      }
      const subject = await verifyUserToken(p['subject_token'], 'subject_token')
      let act: string | undefined
      if (p['actor_token'] !== undefined) {
        if (p['actor_token_type'] !== ACCESS_TOKEN_TYPE) throw new errors.InvalidRequest('unsupported actor_token_type')
        act = String((await verifyUserToken(p['actor_token'], 'actor_token'))['sub'])
      }
      const resource = p['audience'] ?? p['resource']
      if (resource === undefined) throw new errors.InvalidTarget()
      await issue(ctx, TOKEN_EXCHANGE, resource, String(subject['sub']), (p['scope'] ?? '').split(' ').filter(Boolean), act)
    },
    ['subject_token', 'subject_token_type', 'requested_token_type', 'audience', 'resource', 'scope', 'actor_token', 'actor_token_type'],
  )

  // Entra ID On-Behalf-Of: `scope` names the downstream API as `<resource>/.default`.
  register.registerGrantType(
    JWT_BEARER,
    async (ctx) => {
      const p = ctx.oidc.params
      count(JWT_BEARER)
      ledger.subjectTokens.push(p['assertion'] ?? '')
      if (p['requested_token_use'] !== 'on_behalf_of') throw new errors.InvalidRequest('requested_token_use must be on_behalf_of')
      const subject = await verifyUserToken(p['assertion'], 'assertion')
      const scopes = (p['scope'] ?? '').split(' ').filter(Boolean)
      const resource = scopes.find((s) => s.endsWith('/.default'))?.slice(0, -'/.default'.length)
      if (resource === undefined) throw new errors.InvalidScope('scope must name <resource>/.default', p['scope'] ?? '')
      await issue(ctx, JWT_BEARER, resource, String(subject['sub']), [])
    },
    ['assertion', 'requested_token_use', 'scope'],
  )
}
