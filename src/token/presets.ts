import type { AuthorizationServerConfig } from './authorization-server-schema.js'

/**
 * Identity-provider presets: each is a pure function that fills the settings the provider's quirks
 * call for, leaving every setting the operator wrote alone (audiences are only added to). They
 * derive what they need from `issuer` and `audiences`, so a preset needs no settings of its own.
 * docs/identity-providers.md explains each one with a worked example.
 */
export const PRESET_NAMES = ['entra', 'okta', 'auth0', 'keycloak', 'zitadel', 'generic'] as const
export type PresetName = (typeof PRESET_NAMES)[number]

export interface PresetIssue {
  /** The setting at fault, relative to the authorization server (`issuer`, `audiences`). */
  key: string
  message: string
}

export interface PresetResult {
  config: AuthorizationServerConfig
  problems: PresetIssue[]
  notices: string[]
}

type Preset = (as: AuthorizationServerConfig) => PresetResult

export function applyPreset(as: AuthorizationServerConfig): PresetResult {
  return PRESETS[as.preset ?? 'generic'](as)
}

export const PRESETS: Readonly<Record<PresetName, Preset>> = {
  generic: (as) => ({ config: as, problems: [], notices: [] }),
  entra,
  okta,
  auth0,
  keycloak,
  zitadel,
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const ENTRA_V2_ISSUER = /^https:\/\/login\.microsoftonline\.com\/([^/]+)\/v2\.0$/
const ENTRA_MULTI_TENANT = new Set(['common', 'organizations', 'consumers'])

/**
 * Microsoft Entra ID. Tokens carry the v2 issuer or, when the API's manifest asks for v1 tokens,
 * `https://sts.windows.net/{tenant}/`; `aud` is the application ID (v2) or the Application ID URI
 * `api://{id}` (v1); delegated scopes are in `scp` as short names (`mcp.read`, never
 * `api://{id}/mcp.read` nor `.default`), application permissions in `roles`.
 */
function entra(as: AuthorizationServerConfig): PresetResult {
  const problems: PresetIssue[] = []
  const notices: string[] = []
  const tenant = ENTRA_V2_ISSUER.exec(as.issuer)?.[1]
  if (tenant === undefined) {
    problems.push({
      key: 'issuer',
      message:
        'the entra preset expects the v2 issuer https://login.microsoftonline.com/{tenant-id}/v2.0 ' +
        '(v1 tokens, issued by https://sts.windows.net/{tenant-id}/, are then accepted too)',
    })
    return { config: as, problems, notices }
  }
  if (ENTRA_MULTI_TENANT.has(tenant.toLowerCase())) {
    problems.push({
      key: 'issuer',
      message: `"${tenant}" is not one issuer: each tenant's tokens carry that tenant's own iss; list one authorization server per tenant, by tenant ID`,
    })
  } else if (!GUID.test(tenant)) {
    problems.push({
      key: 'issuer',
      message:
        'use the tenant ID (a GUID), not a domain name: Entra publishes its issuer with the tenant ID and clients compare issuers byte for byte',
    })
  }

  const audiences = [...as.audiences]
  for (const audience of as.audiences) {
    if (GUID.test(audience)) audiences.push(`api://${audience}`)
    else if (audience.startsWith('api://') && GUID.test(audience.slice(6))) audiences.push(audience.slice(6))
  }
  if (!audiences.some((a) => GUID.test(a))) {
    notices.push(
      "entra: list the API's application (client) ID in audiences: v2 tokens carry it as aud, v1 tokens the Application ID URI",
    )
  }
  const appIdUri = audiences.find((a) => a.startsWith('api://'))
  return {
    config: {
      ...as,
      jwksUri: as.jwksUri ?? (hasKeySource(as) ? undefined : `https://login.microsoftonline.com/${tenant}/discovery/v2.0/keys`),
      additionalIssuers: as.additionalIssuers ?? [`https://sts.windows.net/${tenant}/`],
      audiences: unique(audiences),
      scopeClaim: as.scopeClaim ?? 'scp',
      additionalScopeClaims: as.additionalScopeClaims ?? ['roles'],
      scopePrefix: as.scopePrefix ?? (appIdUri === undefined ? undefined : `${appIdUri}/`),
    },
    problems,
    notices,
  }
}

/**
 * Okta. Only a custom authorization server (`/oauth2/default` or `/oauth2/{id}`) issues tokens a
 * resource server can validate; scopes are an `scp` array; `aud` is the authorization server's
 * configured Audience, whatever `resource` the client sent.
 */
function okta(as: AuthorizationServerConfig): PresetResult {
  const problems: PresetIssue[] = []
  if (!/^https:\/\/[^/]+\/oauth2\/[^/]+$/.test(as.issuer)) {
    problems.push({
      key: 'issuer',
      message:
        'the okta preset expects a custom authorization server issuer https://{your-org}.okta.com/oauth2/{id} ' +
        "(such as /oauth2/default): the org authorization server's tokens are meant for Okta's own APIs and cannot be validated here",
    })
  }
  return {
    config: {
      ...as,
      jwksUri: as.jwksUri ?? (hasKeySource(as) ? undefined : `${as.issuer}/v1/keys`),
      scopeClaim: as.scopeClaim ?? 'scp',
      introspection: withEndpoint(as, `${as.issuer}/v1/introspect`),
    },
    problems,
    notices: [],
  }
}

/**
 * Auth0. The issuer ends with `/`; an API's RBAC permissions are in `permissions` (besides
 * `scope`); the API identifier chosen in Auth0 becomes `aud` only when the client names it
 * (`audience`, or `resource` with the resource parameter profile): otherwise Auth0 issues an
 * opaque token meant for its /userinfo, which nothing can validate.
 */
function auth0(as: AuthorizationServerConfig): PresetResult {
  const problems: PresetIssue[] = []
  if (!as.issuer.endsWith('/')) {
    problems.push({
      key: 'issuer',
      message: `Auth0 publishes its issuer with a trailing slash (${as.issuer}/); clients compare issuers byte for byte`,
    })
  }
  return {
    config: {
      ...as,
      jwksUri: as.jwksUri ?? (hasKeySource(as) ? undefined : `${as.issuer.replace(/\/?$/, '/')}.well-known/jwks.json`),
      scopeClaim: as.scopeClaim ?? 'scope',
      additionalScopeClaims: as.additionalScopeClaims ?? ['permissions'],
    },
    problems,
    notices: [],
  }
}

/**
 * Keycloak. The issuer is the realm (`/realms/{realm}`, `/auth/realms/{realm}` before Keycloak
 * 17); `aud` holds the canonical URI only when an Audience mapper puts it there (the default is
 * `account` or nothing).
 */
function keycloak(as: AuthorizationServerConfig): PresetResult {
  const problems: PresetIssue[] = []
  if (!/^https?:\/\/[^/]+(\/[^/]+)*\/realms\/[^/]+$/.test(as.issuer)) {
    problems.push({
      key: 'issuer',
      message:
        'the keycloak preset expects the realm issuer https://{host}/realms/{realm} (https://{host}/auth/realms/{realm} before Keycloak 17)',
    })
  }
  return {
    config: {
      ...as,
      jwksUri: as.jwksUri ?? (hasKeySource(as) ? undefined : `${as.issuer}/protocol/openid-connect/certs`),
      scopeClaim: as.scopeClaim ?? 'scope',
      introspection: withEndpoint(as, `${as.issuer}/protocol/openid-connect/token/introspect`),
    },
    problems,
    notices: [],
  }
}

/**
 * ZITADEL. Access tokens are opaque unless the application is switched to JWT, and always opaque
 * for dynamically registered clients, so introspection is the normal path.
 */
function zitadel(as: AuthorizationServerConfig): PresetResult {
  const base = as.issuer.replace(/\/$/, '')
  const notices: string[] = []
  if (as.introspection?.clientId === undefined && as.mode === 'auto') {
    notices.push(
      'zitadel: opaque tokens (the default, and what dynamically registered clients always get) are refused ' +
        'until introspection is configured (introspection.clientId and clientSecretFile of an API application)',
    )
  }
  return {
    config: {
      ...as,
      jwksUri: as.jwksUri ?? (hasKeySource(as) ? undefined : `${base}/oauth/v2/keys`),
      scopeClaim: as.scopeClaim ?? 'scope',
      introspection: withEndpoint(as, `${base}/oauth/v2/introspect`),
    },
    problems: [],
    notices,
  }
}

function hasKeySource(as: AuthorizationServerConfig): boolean {
  return as.jwksFile !== undefined || as.jwksUri !== undefined || as.hmacSecretFile !== undefined || as.discovery === true
}

/** Fills the introspection endpoint when introspection is configured without one. */
function withEndpoint(as: AuthorizationServerConfig, endpoint: string): AuthorizationServerConfig['introspection'] {
  const settings = as.introspection
  if (settings === undefined || settings.endpoint !== undefined) return settings
  return { ...settings, endpoint }
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)]
}
