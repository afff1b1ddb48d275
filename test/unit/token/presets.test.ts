import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { authorizationServerSchema } from '../../../src/token/authorization-server-schema.js'
import { loadConfig } from '../../../src/config/load.js'
import { ConfigError, InvalidToken } from '../../../src/errors.js'
import { applyIssuerPolicy, type IssuerPolicy } from '../../../src/token/issuer-policy.js'
import type { Principal } from '../../../src/token/principal.js'
import { applyPreset, PRESET_NAMES } from '../../../src/token/presets.js'
import { readScopes } from '../../../src/token/scopes-claim.js'

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47'
const APP = '6e74172b-be56-4843-9ff4-e66a39bb12e3'

const preset = (input: Record<string, unknown>) => applyPreset(authorizationServerSchema.parse(input))

describe('entra', () => {
  const v2 = `https://login.microsoftonline.com/${TENANT}/v2.0`

  test('v1 and v2 issuers, both audience forms, scp and roles, keys of the tenant', () => {
    const { config, problems, notices } = preset({ preset: 'entra', issuer: v2, audiences: [`api://${APP}`] })
    assert.deepEqual(problems, [])
    assert.deepEqual(notices, [])
    assert.equal(config.jwksUri, `https://login.microsoftonline.com/${TENANT}/discovery/v2.0/keys`)
    assert.deepEqual(config.additionalIssuers, [`https://sts.windows.net/${TENANT}/`])
    assert.deepEqual(config.audiences, [`api://${APP}`, APP])
    assert.equal(config.scopeClaim, 'scp')
    assert.deepEqual(config.additionalScopeClaims, ['roles'])
    assert.equal(config.scopePrefix, `api://${APP}/`)
  })

  test('a bare application id gains its api:// form', () => {
    const { config } = preset({ preset: 'entra', issuer: v2, audiences: [APP] })
    assert.deepEqual(config.audiences, [APP, `api://${APP}`])
  })

  test('settings written by the operator win', () => {
    const { config } = preset({
      preset: 'entra',
      issuer: v2,
      audiences: [APP],
      scopeClaim: 'roles',
      discovery: true,
      additionalIssuers: [],
      scopePrefix: 'https://contoso.example/api/',
    })
    assert.equal(config.scopeClaim, 'roles')
    assert.equal(config.jwksUri, undefined, 'discovery was chosen, no JWKS URL is imposed')
    assert.deepEqual(config.additionalIssuers, [])
    assert.equal(config.scopePrefix, 'https://contoso.example/api/')
  })

  const refused: { name: string; issuer: string; phrase: RegExp }[] = [
    { name: 'a multi-tenant issuer', issuer: 'https://login.microsoftonline.com/common/v2.0', phrase: /not one issuer/ },
    { name: 'a domain instead of the tenant id', issuer: 'https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0', phrase: /tenant ID/ },
    { name: 'the v1 issuer as the configured one', issuer: `https://sts.windows.net/${TENANT}/`, phrase: /expects the v2 issuer/ },
  ]
  for (const { name, issuer, phrase } of refused) {
    test(`${name} is a problem on issuer`, () => {
      const { problems } = preset({ preset: 'entra', issuer, audiences: [APP] })
      assert.equal(problems.length, 1)
      assert.equal(problems[0]?.key, 'issuer')
      assert.match(problems[0]?.message ?? '', phrase)
    })
  }

  test('without the application id among the audiences, a notice says why it is needed', () => {
    const { notices } = preset({ preset: 'entra', issuer: v2 })
    assert.equal(notices.length, 1)
    assert.match(notices[0] as string, /application \(client\) ID/)
  })

  test('scopes: scp short names and roles both count, in short and api:// forms', () => {
    const { config } = preset({ preset: 'entra', issuer: v2, audiences: [`api://${APP}`] })
    const claims = { scp: 'mcp.read mcp.write', roles: ['mcp.admin'], iat: 1, exp: 2 }
    const principal = applyIssuerPolicy(principalOf(claims, config.scopeClaim ?? 'scope'), policyOf(config))
    assert.deepEqual([...principal.scopes].sort(), [
      `api://${APP}/mcp.admin`,
      `api://${APP}/mcp.read`,
      `api://${APP}/mcp.write`,
      'mcp.admin',
      'mcp.read',
      'mcp.write',
    ])
  })

  test('loaded from MCP_* variables, v1 tokens route to the same authorization server', async () => {
    const config = await loadConfig({
      env: {
        MCP_CANONICAL_URI: 'https://mcp.example.com/mcp',
        MCP_BACKEND: '127.0.0.1:3000',
        MCP_LISTEN_HOST: '127.0.0.1',
        MCP_AUTHORIZATION_SERVER: v2,
        MCP_AUTH_PRESET: 'entra',
        MCP_EXTRA_AUDIENCES: APP,
      },
    })
    const as = config.authorizationServers[0]
    assert.deepEqual(as?.acceptedIssuers, [v2, `https://sts.windows.net/${TENANT}/`])
    assert.equal(as?.mode, 'jwt')
    assert.equal(as?.issuer, v2, 'the metadata lists the v2 issuer only')
  })

  test('a bad issuer is reported with the variable that set it', async () => {
    await assert.rejects(
      loadConfig({
        env: {
          MCP_CANONICAL_URI: 'https://mcp.example.com/mcp',
          MCP_BACKEND: '127.0.0.1:3000',
          MCP_AUTHORIZATION_SERVER: 'https://login.microsoftonline.com/common/v2.0',
          MCP_AUTH_PRESET: 'entra',
        },
      }),
      (error: unknown) =>
        error instanceof ConfigError && error.problems.some((p) => p.startsWith('MCP_AUTHORIZATION_SERVER: "common" is not one issuer')),
    )
  })
})

describe('okta', () => {
  const issuer = 'https://example.okta.com/oauth2/default'
  test('a custom authorization server: its keys, scp, and its introspection endpoint when a client is set', () => {
    const { config, problems } = preset({ preset: 'okta', issuer, introspection: { clientId: 'gw', clientSecretFile: '/run/s' } })
    assert.deepEqual(problems, [])
    assert.equal(config.jwksUri, `${issuer}/v1/keys`)
    assert.equal(config.scopeClaim, 'scp')
    assert.equal(config.introspection?.endpoint, `${issuer}/v1/introspect`)
    assert.deepEqual(readScopes({ scp: ['mcp:read', 'mcp:write'] }, 'scp'), new Set(['mcp:read', 'mcp:write']))
  })
  test('no introspection settings are invented', () => {
    assert.equal(preset({ preset: 'okta', issuer }).config.introspection, undefined)
  })
  test('the org authorization server is refused with the reason', () => {
    const { problems } = preset({ preset: 'okta', issuer: 'https://example.okta.com' })
    assert.match(problems[0]?.message ?? '', /custom authorization server/)
  })
})

describe('auth0', () => {
  test('trailing-slash issuer, JWKS at /.well-known/jwks.json, permissions count as scopes', () => {
    const { config, problems } = preset({ preset: 'auth0', issuer: 'https://tenant.eu.auth0.com/' })
    assert.deepEqual(problems, [])
    assert.equal(config.jwksUri, 'https://tenant.eu.auth0.com/.well-known/jwks.json')
    assert.equal(config.scopeClaim, 'scope')
    assert.deepEqual(config.additionalScopeClaims, ['permissions'])
    const principal = applyIssuerPolicy(principalOf({ scope: 'openid mcp:read', permissions: ['mcp:write'] }, 'scope'), policyOf(config))
    assert.deepEqual([...principal.scopes].sort(), ['mcp:read', 'mcp:write', 'openid'])
  })
  test('an issuer without the trailing slash is a problem (clients compare byte for byte)', () => {
    const { problems } = preset({ preset: 'auth0', issuer: 'https://tenant.eu.auth0.com' })
    assert.match(problems[0]?.message ?? '', /trailing slash/)
  })
})

describe('keycloak', () => {
  for (const issuer of ['https://sso.example.com/realms/mcp', 'https://sso.example.com/auth/realms/mcp', 'http://127.0.0.1:8080/realms/dev']) {
    test(`realm issuer ${issuer}: certs and introspection endpoints of the realm`, () => {
      const { config, problems } = preset({ preset: 'keycloak', issuer, introspection: { clientId: 'gw' } })
      assert.deepEqual(problems, [])
      assert.equal(config.jwksUri, `${issuer}/protocol/openid-connect/certs`)
      assert.equal(config.introspection?.endpoint, `${issuer}/protocol/openid-connect/token/introspect`)
    })
  }
  test('an issuer that is not a realm is a problem', () => {
    const { problems } = preset({ preset: 'keycloak', issuer: 'https://sso.example.com/' })
    assert.match(problems[0]?.message ?? '', /\/realms\/\{realm\}/)
  })
})

describe('zitadel', () => {
  const issuer = 'https://my-instance.zitadel.cloud'
  test('introspection endpoint and keys of the instance', () => {
    const { config, notices } = preset({ preset: 'zitadel', issuer, introspection: { clientId: 'gw', clientSecretFile: '/run/s' } })
    assert.equal(config.introspection?.endpoint, `${issuer}/oauth/v2/introspect`)
    assert.equal(config.jwksUri, `${issuer}/oauth/v2/keys`)
    assert.deepEqual(notices, [])
  })
  test('without an introspection client, a notice says opaque tokens will be refused', () => {
    const { notices } = preset({ preset: 'zitadel', issuer })
    assert.match(notices[0] as string, /opaque tokens .* are refused/)
  })
})

describe('generic and the preset list', () => {
  test('generic (and no preset) changes nothing', () => {
    const input = authorizationServerSchema.parse({ issuer: 'https://as.example.com', jwksUri: 'https://as.example.com/jwks' })
    assert.equal(applyPreset(input).config, input)
    assert.equal(applyPreset({ ...input, preset: 'generic' }).config.jwksUri, input.jwksUri)
  })
  test('every named preset exists and is pure (its input is left untouched)', () => {
    for (const name of PRESET_NAMES) {
      const input = authorizationServerSchema.parse({
        preset: name,
        issuer: 'https://login.microsoftonline.com/x/v2.0',
        audiences: [APP],
        introspection: { clientId: 'gw' },
      })
      const copy = structuredClone(input)
      applyPreset(input)
      assert.deepEqual(input, copy, name)
    }
  })
})

describe('issuer policy (maxTokenLifetime, requiredClaims)', () => {
  const base: IssuerPolicy = { maxTokenLifetime: undefined, requiredClaims: [], additionalScopeClaims: [], scopePrefix: undefined }
  const reasonOf = (fn: () => unknown) => {
    try {
      fn()
    } catch (error) {
      assert.ok(error instanceof InvalidToken)
      return error.reason
    }
    return 'accepted'
  }
  const rows: { name: string; policy: Partial<IssuerPolicy>; claims: Record<string, unknown>; expected: string }[] = [
    { name: '15 minutes exactly', policy: { maxTokenLifetime: 900_000 }, claims: { iat: 1000, exp: 1900 }, expected: 'accepted' },
    { name: 'a second longer', policy: { maxTokenLifetime: 900_000 }, claims: { iat: 1000, exp: 1901 }, expected: 'token_lifetime' },
    { name: 'no iat', policy: { maxTokenLifetime: 900_000 }, claims: { exp: 1900 }, expected: 'missing_claim' },
    { name: 'required claim present', policy: { requiredClaims: ['sub'] }, claims: { sub: 'u' }, expected: 'accepted' },
    { name: 'required claim missing', policy: { requiredClaims: ['sub', 'client_id'] }, claims: { sub: 'u' }, expected: 'missing_claim' },
    { name: 'required claim null', policy: { requiredClaims: ['sub'] }, claims: { sub: null }, expected: 'missing_claim' },
  ]
  for (const { name, policy, claims, expected } of rows) {
    test(`${name}: ${expected}`, () => {
      assert.equal(reasonOf(() => applyIssuerPolicy(principalOf(claims, 'scope'), { ...base, ...policy })), expected)
    })
  }
})

function principalOf(claims: Record<string, unknown>, scopeClaim: string): Principal {
  return { issuer: 'x', subject: undefined, clientId: undefined, scopes: readScopes(claims, scopeClaim), expiresAt: 0, claims }
}

function policyOf(config: ReturnType<typeof applyPreset>['config']): IssuerPolicy {
  return {
    maxTokenLifetime: config.maxTokenLifetime,
    requiredClaims: config.requiredClaims,
    additionalScopeClaims: config.additionalScopeClaims ?? [],
    scopePrefix: config.scopePrefix,
  }
}
