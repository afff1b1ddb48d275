import { nearestName } from './nearest-name.js'

/**
 * Environment variables -> file-shaped settings. The `MCP_*` names and meanings are
 * nginx-mcp-resource's, so a deployment can switch without renaming anything; the new variables
 * follow the same pattern. A variable that is set but empty counts as unset, as in the anchor.
 */

/** Where an env variable lands in the file shape. `authorizationServers.0` is the first issuer. */
export const ENV_KEYS: Readonly<Record<string, string>> = {
  MCP_LISTEN_HOST: 'listen.host',
  MCP_LISTEN_PORT: 'listen.port',
  MCP_WORKER_PROCESSES: 'workers',
  MCP_CANONICAL_URI: 'resource.canonicalUri',
  MCP_RESOURCE_PATH: 'resource.path',
  MCP_METADATA_URI: 'resource.metadataUri',
  MCP_RESOURCE_DOCUMENTATION: 'resource.documentation',
  MCP_RESOURCE_NAME: 'resource.name',
  MCP_BEARER_METHODS_SUPPORTED: 'resource.bearerMethodsSupported',
  MCP_AUTHORIZATION_SERVER: 'authorizationServers.0.issuer',
  MCP_ISSUER: 'authorizationServers.0.expectedIssuer',
  MCP_AUTH_MODE: 'authorizationServers.0.mode',
  MCP_JWT_KEY_FILE: 'authorizationServers.0.jwksFile',
  MCP_JWKS_URI: 'authorizationServers.0.jwksUri',
  MCP_JWT_DISCOVERY: 'authorizationServers.0.discovery',
  MCP_EXTRA_AUDIENCES: 'authorizationServers.0.audiences',
  MCP_CLOCK_SKEW: 'authorizationServers.0.clockSkew',
  MCP_JWKS_COOLDOWN: 'authorizationServers.0.jwksCooldown',
  MCP_AUTH_PRESET: 'authorizationServers.0.preset',
  MCP_HMAC_SECRET_FILE: 'authorizationServers.0.hmacSecretFile',
  MCP_MAX_TOKEN_LIFETIME: 'authorizationServers.0.maxTokenLifetime',
  MCP_REQUIRED_CLAIMS: 'authorizationServers.0.requiredClaims',
  MCP_INTROSPECT_ENDPOINT: 'authorizationServers.0.introspection.endpoint',
  MCP_CLIENT_ID: 'authorizationServers.0.introspection.clientId',
  MCP_CLIENT_SECRET_FILE: 'authorizationServers.0.introspection.clientSecretFile',
  MCP_INTROSPECT_AUTH_METHOD: 'authorizationServers.0.introspection.authMethod',
  MCP_INTROSPECT_CACHE_MAX_TTL: 'authorizationServers.0.introspection.cacheMaxTtl',
  MCP_INTROSPECT_INACTIVE_TTL: 'authorizationServers.0.introspection.inactiveCacheTtl',
  MCP_INTROSPECT_MAX_RATE: 'authorizationServers.0.introspection.maxRate',
  MCP_REDIS_URL: 'redis.url',
  MCP_REDIS_PASSWORD_FILE: 'redis.passwordFile',
  MCP_REQUIRED_SCOPE: 'scopes.required',
  MCP_SCOPES_SUPPORTED: 'scopes.supported',
  MCP_BACKEND: 'backend.url',
  MCP_BACKEND_TIMEOUT: 'backend.headersTimeout',
  MCP_FORWARD_COOKIES: 'backend.forwardCookies',
  MCP_UPSTREAM_IDENTITY: 'upstreamIdentity.mode',
  MCP_UPSTREAM_AUDIENCE: 'upstreamIdentity.exchange.audience',
  MCP_EXCHANGE_FLAVOUR: 'upstreamIdentity.exchange.flavour',
  MCP_EXCHANGE_CLIENT_ID: 'upstreamIdentity.exchange.clientId',
  MCP_EXCHANGE_CLIENT_SECRET_FILE: 'upstreamIdentity.exchange.clientSecretFile',
  MCP_EXCHANGE_SCOPE: 'upstreamIdentity.exchange.scope',
  MCP_EXCHANGE_CACHE_KEY_FILE: 'upstreamIdentity.exchange.sharedCache.keyFile',
  MCP_ASSERTION_KEY_FILE: 'upstreamIdentity.assertion.signingKeyFile',
  MCP_MAX_BODY_SIZE: 'limits.maxBodySize',
  MCP_REQUEST_TIMEOUT: 'limits.requestTimeout',
  MCP_MAX_CONNECTIONS: 'limits.maxConnections',
  MCP_RATELIMIT_ENABLED: 'rateLimit.enabled',
  MCP_RATELIMIT_RATE: 'rateLimit.rate',
  MCP_RATELIMIT_BURST: 'rateLimit.burst',
  MCP_RATELIMIT_ALGO: 'rateLimit.algorithm',
  MCP_RATELIMIT_ON_ERROR: 'rateLimit.onError',
  MCP_RATELIMIT_REDIS: 'rateLimit.redis',
  MCP_RATELIMIT_REDIS_PASSWORD_FILE: 'rateLimit.redisPasswordFile',
  MCP_RATELIMIT_REDIS_TIMEOUT: 'rateLimit.redisTimeout',
  MCP_RATELIMIT_PREFIX: 'rateLimit.prefix',
  MCP_RATELIMIT_MISSING_SUBJECT: 'rateLimit.missingSubject',
  MCP_TLS: 'tls.enabled',
  MCP_SSL_CERT_FILE: 'tls.certFile',
  MCP_SSL_CERT_KEY_FILE: 'tls.keyFile',
  MCP_TLS_MIN_VERSION: 'tls.minVersion',
  MCP_TLS_CLIENT_CA_FILE: 'tls.clientCaFile',
  MCP_DPOP: 'senderConstraint.dpop',
  MCP_MTLS_BOUND_TOKENS: 'senderConstraint.mtls',
  MCP_ALLOWED_ORIGINS: 'origins.allowed',
  MCP_LOG_LEVEL: 'log.level',
  MCP_AUDIT_LOG: 'audit.file',
  MCP_AUDIT_SYNC: 'audit.sync',
  MCP_METRICS_ON_MAIN_PORT: 'metrics.onMainPort',
  MCP_ADMIN_PORT: 'admin.port',
  MCP_ADMIN_HOST: 'admin.host',
  MCP_SHUTDOWN_TIMEOUT: 'shutdownTimeout',
  MCP_START_WITHOUT_KEYS: 'startWithoutKeys',
  MCP_ADMIN_TOKEN_FILE: 'admin.tokenFile',
  MCP_MAX_STREAM_LIFETIME: 'limits.maxStreamLifetime',
  MCP_AUTH_FAILURE_LIMIT: 'authFailures.limit',
  MCP_AUTH_FAILURE_BLOCK: 'authFailures.block',
  MCP_TRUSTED_PROXIES: 'trustedProxies',
}

/** Booleans given as `on`/`off` in the environment. */
const BOOLEAN_KEYS = new Set(['authorizationServers.0.discovery'])

/** Variables that are refused outright, with the reason. */
export const REFUSED_ENV: Readonly<Record<string, string>> = {
  MCP_CLIENT_SECRET:
    'a secret in the environment is visible to docker inspect, /proc/<pid>/environ and crash reports; ' +
    'write it to a file readable by the gateway only (chmod 600) and set MCP_CLIENT_SECRET_FILE',
  MCP_HMAC_SECRET:
    'a secret in the environment is visible to docker inspect and /proc/<pid>/environ; write it to a file (chmod 600) and set MCP_HMAC_SECRET_FILE',
  MCP_EXCHANGE_CLIENT_SECRET:
    'a secret in the environment is visible to docker inspect and /proc/<pid>/environ; write it to a file (chmod 600) and set MCP_EXCHANGE_CLIENT_SECRET_FILE',
  MCP_REDIS_PASSWORD:
    'a password in the environment is visible to docker inspect and /proc/<pid>/environ; write it to a file (chmod 600) and set MCP_REDIS_PASSWORD_FILE',
}

/**
 * Variables of nginx-mcp-resource's container that have no effect here, with the reason: its
 * entrypoint's own settings and the values it derives and exports (`*_JSON`, `*_RE`). They are
 * accepted so its environment files work unchanged, and logged at start (info).
 */
export const IGNORED_ENV: Readonly<Record<string, string>> = {
  MCP_SERVER_NAME: 'the gateway answers every Host, as nginx-mcp-resource did with its single server block',
  MCP_RESOLVER: 'the gateway uses the system resolver at request time, so MCP_RESOLVER is not needed',
  MCP_CANONICAL_URI_JSON: "nginx-mcp-resource's entrypoint derives it from MCP_CANONICAL_URI; the gateway reads MCP_CANONICAL_URI",
  MCP_REQUIRED_SCOPE_RE: "nginx-mcp-resource's entrypoint derives it from MCP_REQUIRED_SCOPE; the gateway reads MCP_REQUIRED_SCOPE",
}

/** Variables read outside this table: `MCP_CONFIG` (the file, in `load.ts`) and `MCP_PROBE_TOKEN` (`probe`). */
const OTHER_ENV: readonly string[] = ['MCP_CONFIG', 'MCP_PROBE_TOKEN']

/** Every `MCP_*` name the gateway knows; any other one set is a start-up error. */
export function knownEnvNames(): string[] {
  return [...Object.keys(ENV_KEYS), ...OTHER_ENV, ...Object.keys(REFUSED_ENV), ...Object.keys(IGNORED_ENV)]
}

export interface EnvSettings {
  /** File-shaped partial settings. */
  values: Record<string, unknown>
  /** Dotted key -> the variable that set it, for error messages. */
  sources: Map<string, string>
  problems: string[]
  /** Variables accepted without effect, each with why (logged at info). */
  ignored: string[]
}

export function readEnv(env: Readonly<Record<string, string | undefined>>): EnvSettings {
  const result: EnvSettings = { values: {}, sources: new Map(), problems: [], ignored: [] }
  result.problems.push(...unknownVariables(env))
  for (const [name, reason] of Object.entries(REFUSED_ENV)) {
    if (env[name] !== undefined && env[name] !== '') result.problems.push(`${name}: ${reason}`)
  }
  for (const [name, reason] of Object.entries(IGNORED_ENV)) {
    if (env[name] !== undefined && env[name] !== '') result.ignored.push(`${name} is ignored: ${reason}`)
  }
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    const raw = env[name]
    if (raw === undefined || raw === '') continue
    let value: unknown = raw
    if (BOOLEAN_KEYS.has(key)) {
      if (!['on', 'off', 'true', 'false'].includes(raw)) {
        result.problems.push(`${name}: expected 'on' or 'off' (got "${raw}")`)
        continue
      }
      value = raw === 'on' || raw === 'true'
    }
    setPath(result.values, key, value)
    result.sources.set(key, name)
  }
  return result
}

/**
 * A misspelt variable would otherwise be dropped in silence: `MCP_REQUIRED_SCOPES` for
 * `MCP_REQUIRED_SCOPE` would start a gateway that requires no scope. So every `MCP_*` variable
 * that is set must be one the gateway knows, like every key of the file.
 */
function unknownVariables(env: Readonly<Record<string, string | undefined>>): string[] {
  const known = knownEnvNames()
  const knownSet = new Set(known)
  const problems: string[] = []
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('MCP_') || knownSet.has(name) || value === undefined || value === '') continue
    const nearest = nearestName(name, known)
    const hint = nearest === undefined ? 'docs/configuration.md lists the variables' : `did you mean ${nearest}?`
    problems.push(`${name} is not a variable of this gateway; ${hint}`)
  }
  return problems
}

/** Sets `a.b.0.c` in a nested object, creating objects and arrays on the way. */
export function setPath(target: Record<string, unknown>, dotted: string, value: unknown): void {
  const parts = dotted.split('.')
  let node: Record<string, unknown> = target
  for (let i = 0; i < parts.length - 1; i++) {
    const part = parts[i] as string
    const nextIsIndex = /^\d+$/.test(parts[i + 1] as string)
    if (typeof node[part] !== 'object' || node[part] === null) node[part] = nextIsIndex ? [] : {}
    node = node[part] as Record<string, unknown>
  }
  node[parts[parts.length - 1] as string] = value
}
