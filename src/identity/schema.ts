import { z } from 'zod'
import { duration, httpUrl, list } from '../common/units.js'

/** RFC 9110 §5.1 field-name (a token). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/** Why `name` cannot carry identity, or `undefined` when it can. */
function headerNameProblem(name: string): string | undefined {
  if (!TOKEN.test(name)) return `"${name}" is not an HTTP header name; expected one like x-mcp-subject`
  if (RESERVED_HEADERS.has(name.toLowerCase())) {
    return `"${name}" is a header the gateway or HTTP itself owns (Host, Authorization, Content-Length, Cookie, ...); pick an x- name`
  }
  return undefined
}

/** A header name, lower-cased: names are compared that way everywhere. */
const headerName = z
  .string()
  .superRefine((name, ctx) => {
    const problem = headerNameProblem(name)
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem })
  })
  .transform((name) => name.toLowerCase())

/** Headers whose meaning belongs to HTTP framing or to the gateway; identity never goes there. */
const RESERVED_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'authorization',
  'content-length',
  'content-type',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'cookie',
  'proxy-authorization',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'mcp-session-id',
  'mcp-protocol-version',
])

/** A header for the exchanged token: `authorization` (as `Bearer`), or an x- name. */
const tokenHeader = z.union([z.literal('authorization'), headerName])

const claimName = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'expected a claim name like sub or client_id')

const signingAlg = z.enum(['ES256', 'EdDSA', 'RS256'])

const exchangeSchema = z.strictObject({
  flavour: z
    .enum(['rfc8693', 'entra-obo'])
    .default('rfc8693')
    .describe(
      '`rfc8693`: OAuth 2.0 Token Exchange (Keycloak, Okta, Auth0 custom exchange); `entra-obo`: the ' +
        'Microsoft Entra On-Behalf-Of grant (`jwt-bearer` with `requested_token_use=on_behalf_of`). Env: `MCP_EXCHANGE_FLAVOUR`.',
    ),
  tokenEndpoint: httpUrl
    .optional()
    .describe("The token endpoint. Default: `token_endpoint` from the first authorization server's discovery document."),
  clientId: z.string().min(1).optional().describe("The gateway's client id at the authorization server. Env: `MCP_EXCHANGE_CLIENT_ID`."),
  clientSecretFile: z
    .string()
    .min(1)
    .optional()
    .describe('File holding the client secret (`client_secret_basic`); chmod 600. Env: `MCP_EXCHANGE_CLIENT_SECRET_FILE`.'),
  privateKeyJwt: z
    .strictObject({
      keyFile: z.string().min(1).describe('PEM private key (PKCS#8, or SEC1/PKCS#1) signing the client assertion.'),
      kid: z.string().min(1).optional().describe('`kid` of the client assertion header, as registered at the authorization server.'),
      alg: signingAlg.optional().describe('Signing algorithm. Default: from the key (EC P-256: ES256, Ed25519: EdDSA, RSA: RS256).'),
    })
    .optional()
    .describe('Authenticate with `private_key_jwt` (RFC 7523 §2.2) instead of a client secret.'),
  audience: z
    .string()
    .min(1)
    .optional()
    .describe('The downstream audience: RFC 8693 `audience` (rfc8693). Env: `MCP_UPSTREAM_AUDIENCE`.'),
  resource: httpUrl.optional().describe('RFC 8693 / RFC 8707 `resource` sent with the exchange (rfc8693), if the AS wants one.'),
  scope: list
    .default([])
    .describe('Scopes asked for the exchanged token (entra-obo: like `api://downstream/.default`). Env: `MCP_EXCHANGE_SCOPE`.'),
  tools: z
    .record(z.string().min(1), list)
    .default({})
    .describe('Scopes asked per tool, for `tools/call` of that tool, instead of `scope`.'),
  actorToken: z
    .enum(['none', 'client-credentials'])
    .default('none')
    .describe("`client-credentials`: send the gateway's own client-credentials token as RFC 8693 `actor_token` (rfc8693 only)."),
  appOnlyFallback: z
    .enum(['exchange', 'refuse', 'client-credentials'])
    .optional()
    .describe(
      'A token with no user in it (no `sub`, `sub` equal to the client id, or `idtyp: app`): `exchange` it like any ' +
        "other, `refuse` it (403), or send the gateway's own client-credentials token. Default: `exchange` for " +
        'rfc8693, `refuse` for entra-obo (On-Behalf-Of needs a user).',
    ),
  header: tokenHeader
    .default('authorization')
    .describe('Where the exchanged token goes: `authorization` (as `Bearer`) or another header name.'),
  cacheMargin: duration
    .prefault(60)
    .describe('An exchanged token is reused until `expires_in` minus this margin, and never past the client token\'s `exp`.'),
  cacheSize: z.coerce.number().int().min(0).max(1_000_000).default(10_000).describe('Most exchanged tokens held in memory.'),
  timeout: duration.prefault(5).describe('Longest wait for the token endpoint; beyond it, 503.'),
  sharedCache: z
    .strictObject({
      keyFile: z
        .string()
        .min(1)
        .optional()
        .describe(
          'File holding the 32-byte AES-256-GCM key exchanged tokens are sealed with in Redis, as base64 ' +
            '(`openssl rand -base64 32`) or hex; chmod 600; the same on every gateway. Env: `MCP_EXCHANGE_CACHE_KEY_FILE`.',
        ),
    })
    .prefault({})
    .describe('Share exchanged tokens between gateways through Redis (`redis.url` is required), sealed. Unset: each process caches its own.'),
})

const assertionSchema = z.strictObject({
  signingKeyFile: z
    .string()
    .min(1)
    .optional()
    .describe('PEM private key (EC P-256, Ed25519 or RSA) the gateway signs assertions with; chmod 600. Env: `MCP_ASSERTION_KEY_FILE`.'),
  kid: z.string().min(1).optional().describe('`kid` of the key. Default: its RFC 7638 thumbprint.'),
  audience: z
    .string()
    .min(1)
    .optional()
    .describe('`aud` of the assertion. Default: the backend URL.'),
  lifetimeSeconds: z.coerce.number().int().min(5).max(3600).default(60).describe('`exp` minus `iat`, in seconds.'),
  claims: z
    .array(claimName)
    .default(['sub', 'client_id', 'scope', 'iss'])
    .describe("Claims copied from the verified token; the token's `iss` becomes `original_iss` (`iss` names the gateway)."),
  header: headerName.default('x-mcp-identity').describe('Header carrying the assertion.'),
})

/**
 * `upstreamIdentity:` in the file: what the backend learns about the caller, since the client's
 * own token never goes upstream (MCP authorization §Token Passthrough). docs/upstream-identity.md
 * describes each mode.
 */
export const upstreamIdentitySchema = z
  .strictObject({
    mode: z
      .enum(['none', 'exchange', 'assertion', 'headers'])
      .default('none')
      .describe(
        '`none`: the backend learns nothing; `exchange`: a token from the authorization server for the backend ' +
          '(RFC 8693 or Entra On-Behalf-Of); `assertion`: a short-lived JWT the gateway signs; `headers`: plain ' +
          'headers, for trusted networks only. Env: `MCP_UPSTREAM_IDENTITY`.',
      ),
    exchange: exchangeSchema.prefault({}).describe('Token exchange (`mode: exchange`).'),
    assertion: assertionSchema.prefault({}).describe('Gateway-signed assertion (`mode: assertion`).'),
    headers: z
      .record(z.string(), claimName)
      .default({})
      .describe('`mode: headers`: header name -> claim, like `x-mcp-subject: sub`. A client\'s same-named headers are always removed.'),
  })
  .superRefine((identity, ctx) => {
    const need = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message })
    if (identity.mode === 'exchange') {
      const exchange = identity.exchange
      if (exchange.clientId === undefined) need(['exchange', 'clientId'], 'is required with mode exchange')
      if ((exchange.clientSecretFile === undefined) === (exchange.privateKeyJwt === undefined)) {
        need(['exchange', 'clientSecretFile'], 'give exactly one of a client secret file or privateKeyJwt')
      }
      if (exchange.flavour === 'rfc8693' && exchange.audience === undefined && exchange.resource === undefined) {
        need(['exchange', 'audience'], 'rfc8693 needs the downstream audience (or a resource)')
      }
      if (exchange.flavour === 'entra-obo' && exchange.scope.length === 0) {
        need(['exchange', 'scope'], 'entra-obo needs a scope like api://downstream/.default')
      }
      if (exchange.flavour === 'entra-obo' && exchange.actorToken !== 'none') {
        need(['exchange', 'actorToken'], 'is an RFC 8693 parameter; entra-obo has no actor token')
      }
    }
    if (identity.mode === 'assertion' && identity.assertion.signingKeyFile === undefined) {
      need(['assertion', 'signingKeyFile'], 'is required with mode assertion')
    }
    if (identity.mode === 'headers' && Object.keys(identity.headers).length === 0) {
      need(['headers'], 'name at least one header -> claim, like x-mcp-subject: sub')
    }
    for (const name of Object.keys(identity.headers)) {
      const problem = headerNameProblem(name)
      if (problem !== undefined) need(['headers', name], problem)
    }
  })

export type UpstreamIdentityOutput = z.output<typeof upstreamIdentitySchema>
