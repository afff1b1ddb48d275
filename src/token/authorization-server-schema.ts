import type { JSONWebKeySet } from 'jose'
import { z } from 'zod'
import { checkHmacKeyLength, HMAC_ALGORITHMS } from './hmac.js'
import { assignOpaqueTokens, resolveIntrospection, type ResolvedIntrospection } from './introspection-config.js'
import { readSecretFile, type Secret } from '../common/secret-file.js'
import { applyPreset, PRESET_NAMES, type PresetName } from './presets.js'
import { duration, httpUrl, list } from '../common/units.js'

/** Asymmetric algorithms accepted by default. `none` is never accepted; HMAC only with a secret file. */
export const DEFAULT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']
const ASYMMETRIC = new Set(DEFAULT_ALGORITHMS)
const HMAC = new Set<string>(HMAC_ALGORITHMS)

/** RFC 7662 settings of one authorization server (nginx-mcp-resource's `MCP_INTROSPECT_*` variables). */
export const introspectionSchema = z.strictObject({
  endpoint: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe(
      'The RFC 7662 introspection endpoint (https; http only for loopback). Default: `introspection_endpoint` ' +
        "from the issuer's metadata when `discovery` is on, or the preset's. Env: `MCP_INTROSPECT_ENDPOINT`.",
    ),
  clientId: z.string().min(1).optional().describe('The client the gateway introspects as. Env: `MCP_CLIENT_ID`.'),
  clientSecretFile: z
    .string()
    .min(1)
    .optional()
    .describe(
      "File holding that client's secret (trailing newline stripped; mode 600, else a warning, an error " +
        'with `--strict`). A secret in `MCP_CLIENT_SECRET` is refused. Env: `MCP_CLIENT_SECRET_FILE`.',
    ),
  authMethod: z
    .enum(['client_secret_basic', 'client_secret_post', 'basic', 'post'])
    .transform((v): 'client_secret_basic' | 'client_secret_post' => (v === 'basic' || v === 'post' ? `client_secret_${v}` : v))
    .prefault('client_secret_basic')
    .describe(
      'Client authentication at the endpoint (RFC 6749 §2.3.1): `client_secret_basic` (Authorization header) ' +
        'or `client_secret_post` (form body). Env: `MCP_INTROSPECT_AUTH_METHOD`.',
    ),
  cacheMaxTtl: duration
    .prefault(60)
    .describe(
      "Longest time an active answer is reused; never past the token's `exp`. A token revoked at the " +
        'authorization server stays accepted up to this long. 0 disables the cache. Env: `MCP_INTROSPECT_CACHE_MAX_TTL`.',
    ),
  inactiveCacheTtl: duration
    .prefault(5)
    .describe(
      'How long an inactive answer is reused, so a flood of one bad token does not reach the authorization ' +
        'server each time. Env: `MCP_INTROSPECT_INACTIVE_TTL`.',
    ),
  cacheSize: z.coerce
    .number()
    .int()
    .min(0)
    .default(10_000)
    .describe(
      'Answers kept in memory (least recently used dropped first), and as many checked tokens kept by each process ' +
        'in front of that cache. With `redis.url` the answers live in Redis; each process still keeps this many ' +
        'checked tokens, each only until its answer in Redis ends.',
    ),
  maxRate: z
    .preprocess(
      // The environment's form: `<per client>,<total>`, e.g. `50,500`.
      (v) => (typeof v === 'string' && /^\s*\d+\s*,\s*\d+\s*$/.test(v) ? { perClient: v.split(',')[0]?.trim(), total: v.split(',')[1]?.trim() } : v),
      z.strictObject({
        perClient: z.coerce.number().int().min(0).default(50).describe('Calls per second from one client address; 0: no cap.'),
        total: z.coerce.number().int().min(0).default(500).describe('Calls per second from all clients together; 0: no cap.'),
      }),
    )
    .prefault({})
    .describe(
      'Most calls per second to the introspection endpoint, `{ perClient, total }` (env: `<per client>,<total>`), ' +
        'so a flood of random tokens is not relayed to the authorization server; past either, 503 with ' +
        '`Retry-After` (`introspection_capped`). Cached answers never count. Counted in memory, per gateway ' +
        'process; the client address is the TCP peer, or the forwarded one when the peer is in `MCP_TRUSTED_PROXIES`. ' +
        'Env: `MCP_INTROSPECT_MAX_RATE` (default `50,500`).',
    ),
  opaqueTokens: z
    .boolean()
    .optional()
    .describe(
      'Whether tokens that are not JWTs are introspected here. Default: yes when this is the only issuer ' +
        'using introspection. With several, exactly one must say `true` (or all `false`): an opaque token ' +
        'does not name its issuer, and sending it to every endpoint would disclose it to servers that did not issue it.',
    ),
})

export const authorizationServerSchema = z
  .strictObject({
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
    additionalIssuers: list
      .optional()
      .describe(
        'Other `iss` values the same server puts in its tokens (the entra preset adds the v1 ' +
          '`https://sts.windows.net/{tenant}/`). Not listed in the metadata.',
      ),
    preset: z
      .enum(PRESET_NAMES)
      .optional()
      .describe(
        'Identity-provider defaults: `entra`, `okta`, `auth0`, `keycloak`, `zitadel` or `generic` (none). ' +
          'Settings written here win. See docs/identity-providers.md. Env: `MCP_AUTH_PRESET`.',
      ),
    mode: z
      .enum(['jwt', 'introspect', 'auto'])
      .default('auto')
      .describe(
        'How tokens of this issuer are validated: `jwt` (signature with its keys), `introspect` (every token, ' +
          'JWT or not, is sent to its RFC 7662 endpoint) or `auto` (opaque tokens by introspection when a client ' +
          'is configured; JWTs by signature with the keys of `jwksFile`, `jwksUri` or discovery, which is the ' +
          'default without a client). Env: `MCP_AUTH_MODE`.',
      ),
    jwksFile: z.string().min(1).optional().describe('Path of a local JWKS file. Env: `MCP_JWT_KEY_FILE`.'),
    jwksUri: httpUrl.optional().describe('JWKS URL, fetched and cached. Env: `MCP_JWKS_URI`.'),
    discovery: z
      .boolean()
      .optional()
      .describe(
        "Read `jwks_uri` (and `introspection_endpoint`) from the issuer's RFC 8414 or OIDC discovery document " +
          '(both path-insertion forms). Default: on for an issuer that verifies JWTs and has no `jwksFile`, ' +
          '`jwksUri` or `hmacSecretFile` (nor a preset that sets one); off otherwise. Env: `MCP_JWT_DISCOVERY` (`on`/`off`).',
      ),
    hmacSecretFile: z
      .string()
      .min(1)
      .optional()
      .describe(
        'For development only: a file holding a shared HMAC secret (HS256/384/512, at least 32 bytes for ' +
          'HS256). Then `algorithms` may list only HMAC algorithms (default `HS256`). Env: `MCP_HMAC_SECRET_FILE`.',
      ),
    algorithms: list
      .optional()
      .describe(
        'Allowed JWS algorithms. Default: the asymmetric ones (RS*, PS*, ES*, EdDSA); `HS256` with ' +
          '`hmacSecretFile`. `none` is refused; HMAC is refused without `hmacSecretFile`.',
      ),
    audiences: list
      .default([])
      .describe('Audiences accepted besides the canonical URI (explicit, e.g. `api://my-app`). Env: `MCP_EXTRA_AUDIENCES`.'),
    scopeClaim: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Claim holding the scopes: a space-separated string, or an array. Default `scope` (`scp` is read when ' +
          'it is absent); the entra and okta presets use `scp`.',
      ),
    additionalScopeClaims: list
      .optional()
      .describe('More claims whose values count as scopes (entra: `roles`, auth0: `permissions`).'),
    scopePrefix: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Each scope read from a token also counts with this prefix, so rules can name the full form a client ' +
          'requests (entra: `api://{id}/` for `scp` holding `mcp.read`).',
      ),
    maxTokenLifetime: duration
      .optional()
      .describe(
        'Refuse tokens whose `exp - iat` is longer (such tokens and tokens without `iat` get 401). Unset: no ' +
          'limit. 15m is a sound choice. Env: `MCP_MAX_TOKEN_LIFETIME`.',
      ),
    requiredClaims: list
      .default([])
      .describe('Claims every token (or introspection answer) must carry, e.g. `sub`. Env: `MCP_REQUIRED_CLAIMS`.'),
    introspection: introspectionSchema.optional().describe('RFC 7662 token introspection for this issuer.'),
    clockSkew: duration.prefault(30).describe('Tolerance for `exp`, `nbf` and `iat`. Env: `MCP_CLOCK_SKEW`.'),
    jwksCooldown: duration
      .prefault(30)
      .describe('Least time between two JWKS fetches caused by an unknown `kid`. Env: `MCP_JWKS_COOLDOWN`.'),
    jwksCacheMaxAge: duration.prefault(600).describe('How long fetched keys are trusted before a refetch.'),
    httpTimeout: duration
      .prefault(5)
      .describe('Timeout of calls to the authorization server (discovery, JWKS, introspection).'),
  })
  // `when`: run even when another field of this issuer failed, so every problem shows at once;
  // the values may then be raw input, hence the defensive reads.
  .superRefine(
    (as, ctx) => {
      const hmac = as.hmacSecretFile !== undefined
      for (const alg of Array.isArray(as.algorithms) ? as.algorithms : []) {
        if (alg.toLowerCase() === 'none') {
          ctx.addIssue({ code: 'custom', path: ['algorithms'], message: 'the "none" algorithm is never allowed' })
        } else if (HMAC.has(alg) && !hmac) {
          ctx.addIssue({
            code: 'custom',
            path: ['algorithms'],
            message: `${alg} needs an explicitly configured secret (hmacSecretFile); a public key is never used as an HMAC secret`,
          })
        } else if (ASYMMETRIC.has(alg) && hmac) {
          ctx.addIssue({ code: 'custom', path: ['algorithms'], message: `${alg} cannot be checked with hmacSecretFile; list HMAC algorithms only` })
        } else if (!ASYMMETRIC.has(alg) && !HMAC.has(alg)) {
          ctx.addIssue({
            code: 'custom',
            path: ['algorithms'],
            message: `unsupported algorithm "${alg}" (allowed: ${[...DEFAULT_ALGORITHMS, ...HMAC_ALGORITHMS].join(', ')})`,
          })
        }
      }
      // Without a JWKS file, URL or secret, keys are discovered from the issuer; only turning
      // discovery off leaves JWTs with no key source. A preset fills one (resolution re-checks).
      const keySource = as.jwksFile !== undefined || as.jwksUri !== undefined || as.discovery !== false || hmac
      const presetFills = as.preset !== undefined && as.preset !== 'generic'
      const client = typeof as.introspection === 'object' && as.introspection?.clientId !== undefined
      // Not for an issuer not configured at all: "MCP_AUTHORIZATION_SERVER is required" says enough.
      const named = typeof as.issuer === 'string'
      if (named && !keySource && !presetFills && (as.mode === 'jwt' || (as.mode === 'auto' && !client))) {
        ctx.addIssue({ code: 'custom', path: ['discovery'], message: missingKeySource(as.mode) })
      }
    },
    { when: () => true },
  )

/** Said of the `discovery` setting: turning it off is what leaves JWTs without keys. */
function missingKeySource(mode: string): string {
  const jwt =
    'verifying JWTs needs a key source, and discovery is off: set MCP_JWT_KEY_FILE (a JWKS file) or ' +
    "MCP_JWKS_URI, or turn discovery on (MCP_JWT_DISCOVERY=on) to find jwks_uri in the authorization server's metadata"
  if (mode === 'jwt') return jwt
  return `${jwt}; or validate tokens by introspection only (MCP_INTROSPECT_ENDPOINT, MCP_CLIENT_ID and MCP_CLIENT_SECRET_FILE)`
}

export type AuthorizationServerConfig = z.output<typeof authorizationServerSchema>
export type IntrospectionSettings = z.output<typeof introspectionSchema>

type Resolved = 'expectedIssuer' | 'mode' | 'discovery' | 'algorithms' | 'scopeClaim' | 'additionalIssuers' | 'additionalScopeClaims' | 'introspection' | 'preset'

/** One authorization server after presets, defaults and secret files: what verifiers read. */
export interface ResolvedAuthorizationServer extends Omit<AuthorizationServerConfig, Resolved> {
  /** The `iss` a token must carry. */
  readonly expectedIssuer: string
  /** `expectedIssuer`, then `additionalIssuers`: every `iss` routed to this server. */
  readonly acceptedIssuers: readonly string[]
  readonly preset: PresetName
  /** `auto` here means both: JWTs by signature and opaque tokens by introspection. */
  readonly mode: 'jwt' | 'introspect' | 'auto'
  /** JWTs of this issuer are verified by signature (else introspected). */
  readonly verifiesJwt: boolean
  readonly discovery: boolean
  readonly algorithms: string[]
  readonly scopeClaim: string
  readonly additionalScopeClaims: readonly string[]
  /** Keys read from `jwksFile` at load time. */
  readonly jwks: JSONWebKeySet | undefined
  readonly hmacSecret: Secret | undefined
  readonly introspection: ResolvedIntrospection | undefined
}

export interface ResolveContext {
  /** The variable, flag or file key that set a dotted key, for messages. */
  name(key: string): string
  strict: boolean
  problems: string[]
  notices: string[]
  readJwks(file: string, key: string): JSONWebKeySet | undefined
}

/** Presets, defaults, modes, secret files and the opaque-token route of every configured issuer. */
export function resolveAuthorizationServers(
  list: readonly AuthorizationServerConfig[],
  ctx: ResolveContext,
): ResolvedAuthorizationServer[] {
  const resolved = list.map((as, i) => resolveAuthorizationServer(as, `authorizationServers.${i}`, ctx))
  const seen = new Set<string>()
  for (const as of resolved) {
    for (const iss of as.acceptedIssuers) {
      if (seen.has(iss)) ctx.problems.push(`authorizationServers: issuer "${iss}" is listed twice`)
      seen.add(iss)
    }
  }
  return assignOpaqueTokens(resolved, list, ctx)
}

function resolveAuthorizationServer(raw: AuthorizationServerConfig, at: string, ctx: ResolveContext): ResolvedAuthorizationServer {
  const preset = applyPreset(raw)
  for (const p of preset.problems) ctx.problems.push(`${ctx.name(`${at}.${p.key}`)}: ${p.message}`)
  ctx.notices.push(...preset.notices)
  const as = preset.config

  const hmac = as.hmacSecretFile !== undefined
  const hasClient = as.introspection?.clientId !== undefined
  // RFC 8414 §3 / OIDC discovery is the default key source of an issuer that verifies JWTs and
  // names no other: the issuer alone is enough, as the authorization server publishes `jwks_uri`.
  const otherKeySource = as.jwksFile !== undefined || as.jwksUri !== undefined || hmac
  const wantsJwt = as.mode === 'jwt' || (as.mode === 'auto' && !hasClient)
  const discovery = as.discovery ?? (wantsJwt && !otherKeySource)
  const hasKeySource = otherKeySource || discovery
  let verifiesJwt = as.mode === 'jwt' || (as.mode === 'auto' && hasKeySource)
  let introspects = as.mode === 'introspect' || (as.mode === 'auto' && hasClient)
  if ((as.mode === 'jwt' && !hasKeySource) || (as.mode === 'auto' && !hasKeySource && !hasClient)) {
    ctx.problems.push(`${ctx.name(`${at}.discovery`)}: ${missingKeySource(as.mode)}`)
    verifiesJwt = true
    introspects = false
  }
  if (as.mode === 'jwt' && hasClient) {
    ctx.notices.push(`${ctx.name(`${at}.introspection.clientId`)} is ignored: this issuer is in jwt mode`)
  }
  if (hmac && (as.jwksFile !== undefined || as.jwksUri !== undefined)) {
    ctx.problems.push(`${ctx.name(`${at}.hmacSecretFile`)}: give either an HMAC secret or public keys (jwksFile, jwksUri), not both`)
  }

  const algorithms = as.algorithms ?? (hmac ? ['HS256'] : [...DEFAULT_ALGORITHMS])
  let hmacSecret: Secret | undefined
  if (as.hmacSecretFile !== undefined) {
    const name = ctx.name(`${at}.hmacSecretFile`)
    const read = readSecretFile(as.hmacSecretFile, name, ctx.strict)
    ctx.problems.push(...read.problems)
    ctx.notices.push(...read.notices)
    hmacSecret = read.secret
    const tooShort = hmacSecret === undefined ? undefined : checkHmacKeyLength(hmacSecret.byteLength, algorithms)
    if (tooShort !== undefined) ctx.problems.push(`${name}=${as.hmacSecretFile} ${tooShort}`)
    ctx.notices.push(
      `${name}: tokens of ${as.issuer} are checked with a shared HMAC secret, for development only: anyone holding the secret can mint tokens`,
    )
  }

  const introspection = introspects ? resolveIntrospection(as, at, ctx) : undefined
  const expectedIssuer = as.expectedIssuer ?? as.issuer
  return {
    ...as,
    expectedIssuer,
    acceptedIssuers: [...new Set([expectedIssuer, ...(as.additionalIssuers ?? [])])],
    preset: as.preset ?? 'generic',
    mode: verifiesJwt && introspects ? 'auto' : introspects ? 'introspect' : 'jwt',
    verifiesJwt,
    discovery,
    algorithms,
    scopeClaim: as.scopeClaim ?? 'scope',
    additionalScopeClaims: as.additionalScopeClaims ?? [],
    jwks: as.jwksFile === undefined ? undefined : ctx.readJwks(as.jwksFile, `${at}.jwksFile`),
    hmacSecret,
    introspection,
  }
}
