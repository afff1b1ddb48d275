import { readFileSync } from 'node:fs'
import { cpus } from 'node:os'
import type { JSONWebKeySet } from 'jose'
import { ConfigError } from '../errors.js'
import { isLoopbackHost } from './loopback.js'
import { protectedResourceMetadataPaths, protectedResourceMetadataUrl } from '../metadata/protected-resource.js'
import { resolveAuthorizationServers, type ResolvedAuthorizationServer } from './authorization-server-schema.js'
import { resolveRedisConfig, type RedisConfig } from '../state/redis-config.js'
import type { ConfigOutput } from './schema.js'
import { normalizeRateLimit, type RateLimitSettings } from '../ratelimit/settings.js'
import { readSecretFile, type Secret } from './secret-file.js'

export type { ResolvedAuthorizationServer } from './authorization-server-schema.js'

/** The validated, normalized, frozen configuration that runtime code reads. */
export interface Config {
  readonly listen: { readonly host: string; readonly port: number }
  readonly workers: number
  readonly resource: {
    readonly canonicalUri: string
    readonly path: string
    readonly metadataUri: string
    /** Request paths that serve the RFC 9728 document. */
    readonly metadataPaths: readonly string[]
    readonly documentation: string | undefined
    readonly name: string | undefined
    readonly bearerMethodsSupported: readonly string[]
  }
  readonly authorizationServers: readonly ResolvedAuthorizationServer[]
  /** Shared state (introspection cache); `undefined`: each process keeps its own in memory. */
  readonly redis?: RedisConfig | undefined
  readonly scopes: ConfigOutput['scopes']
  readonly backend: Omit<ConfigOutput['backend'], 'url'> & { readonly origin: string; readonly basePath: string }
  readonly limits: ConfigOutput['limits']
  readonly tls: ConfigOutput['tls']
  readonly origins: { readonly any: boolean; readonly allowed: ReadonlySet<string> }
  readonly log: ConfigOutput['log']
  readonly rateLimit: RateLimitSettings
  readonly audit: ConfigOutput['audit']
  readonly metrics: ConfigOutput['metrics']
  readonly admin: ConfigOutput['admin'] & {
    /** The admin bearer secret (`tokenFile` read); `undefined`: the revocation routes are off. */
    readonly token: Secret | undefined
  }
  readonly authFailures: ConfigOutput['authFailures']
  readonly trustedProxies: ConfigOutput['trustedProxies']
  /** Milliseconds. */
  readonly shutdownTimeout: number
  readonly strict: boolean
  /** Start-up notices (ignored compatibility variables, insecure choices) to log once. */
  readonly notices: readonly string[]
  readonly file: string | undefined
}

export interface NormalizeContext {
  /** The variable, flag or file key that set a dotted key, for messages. */
  name(key: string): string
  strict: boolean
  file: string | undefined
  notices: readonly string[]
}


/** Cross-field checks and derived values; throws every problem at once. */
export function normalizeConfig(raw: ConfigOutput, ctx: NormalizeContext): Config {
  const problems: string[] = []
  const notices = [...ctx.notices]

  const canonical = new URL(raw.resource.canonicalUri)
  const path = raw.resource.path ?? canonical.pathname
  const metadataUri = raw.resource.metadataUri ?? protectedResourceMetadataUrl(raw.resource.canonicalUri)
  const extraMetadataPath = raw.resource.metadataUri === undefined ? [] : [new URL(raw.resource.metadataUri).pathname]

  const tls = raw.tls
  if (tls.enabled) {
    for (const key of ['certFile', 'keyFile'] as const) checkReadable(tls[key] as string, ctx.name(`tls.${key}`), problems)
  }

  const authorizationServers = resolveAuthorizationServers(raw.authorizationServers, {
    name: ctx.name,
    strict: ctx.strict,
    problems,
    notices,
    readJwks: (file, key) => readJwks(file, ctx.name(key), problems),
  })
  const redis = resolveRedisConfig(raw.redis, { name: ctx.name, strict: ctx.strict, problems, notices })

  const backendUrl = raw.backend.url

  const listenHost = raw.listen.host
  if (!tls.enabled && !isLoopbackHost(listenHost)) {
    notices.push(
      `TLS is off while listening on ${listenHost}: keep the hop from the TLS-terminating load balancer inside one trust boundary`,
    )
  }

  const workers = raw.workers === 'auto' ? Math.max(1, cpus().length) : raw.workers
  const rateLimit = normalizeRateLimit(raw.rateLimit, ctx.name, problems, notices, workers, ctx.strict)

  let adminToken: Secret | undefined
  if (raw.admin.tokenFile !== undefined) {
    const read = readSecretFile(raw.admin.tokenFile, ctx.name('admin.tokenFile'), ctx.strict)
    problems.push(...read.problems)
    notices.push(...read.notices)
    adminToken = read.secret
    // The secret guards revocation, which can lock every user out: it must not be guessable.
    if (adminToken !== undefined && adminToken.byteLength < 16) {
      problems.push(`${ctx.name('admin.tokenFile')}=${raw.admin.tokenFile} holds fewer than 16 bytes: use a long random secret (openssl rand -hex 32)`)
    }
    if (raw.admin.port === undefined) notices.push(`${ctx.name('admin.tokenFile')} is set but there is no admin listener (MCP_ADMIN_PORT)`)
  }

  if (problems.length > 0) throw new ConfigError(problems)
  // Kept exactly as configured: the metadata `resource` must equal what clients were told.
  const canonicalHref = raw.resource.canonicalUri
  const allowedOrigins = raw.origins.allowed ?? [canonical.origin]

  const config: Config = {
    listen: { host: listenHost, port: raw.listen.port ?? (tls.enabled ? 443 : 80) },
    workers,
    resource: {
      canonicalUri: canonicalHref,
      path,
      metadataUri,
      metadataPaths: protectedResourceMetadataPaths(canonicalHref, extraMetadataPath),
      documentation: raw.resource.documentation,
      name: raw.resource.name,
      bearerMethodsSupported: raw.resource.bearerMethodsSupported,
    },
    authorizationServers,
    redis,
    scopes: raw.scopes,
    backend: {
      connectTimeout: raw.backend.connectTimeout,
      headersTimeout: raw.backend.headersTimeout,
      bodyTimeout: raw.backend.bodyTimeout,
      connections: raw.backend.connections,
      forwardCookies: raw.backend.forwardCookies,
      origin: backendUrl.origin,
      basePath: backendUrl.pathname === '/' ? '' : backendUrl.pathname.replace(/\/$/, ''),
    },
    limits: raw.limits,
    tls,
    origins: {
      any: allowedOrigins.includes('*'),
      allowed: new Set(allowedOrigins.filter((o) => o !== '*').map((o) => o.replace(/\/$/, '').toLowerCase())),
    },
    log: raw.log,
    rateLimit,
    audit: raw.audit,
    metrics: raw.metrics,
    admin: { ...raw.admin, token: adminToken },
    authFailures: raw.authFailures,
    trustedProxies: raw.trustedProxies,
    shutdownTimeout: raw.shutdownTimeout,
    strict: ctx.strict,
    notices,
    file: ctx.file,
  }
  return deepFreeze(config)
}

function readJwks(file: string, name: string, problems: string[]): JSONWebKeySet | undefined {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    problems.push(`${name}=${file} is not readable (${(error as NodeJS.ErrnoException).code ?? 'error'})`)
    return undefined
  }
  try {
    const jwks = JSON.parse(text) as JSONWebKeySet
    if (!Array.isArray(jwks.keys) || jwks.keys.length === 0) throw new Error('no keys')
    if (jwks.keys.some((k) => typeof k !== 'object' || k === null || typeof k.kty !== 'string')) throw new Error('bad key')
    if (jwks.keys.some((k) => 'd' in k)) problems.push(`${name}=${file} holds private key material; give the gateway public keys only`)
    return jwks
  } catch {
    problems.push(`${name}=${file} is not a JWKS (expected JSON {"keys": [...]} with at least one key)`)
    return undefined
  }
}

function checkReadable(file: string, name: string, problems: string[]): void {
  try {
    readFileSync(file)
  } catch (error) {
    problems.push(`${name}=${file} is not readable (${(error as NodeJS.ErrnoException).code ?? 'error'})`)
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value) && !(value instanceof Set)) {
    Object.freeze(value)
    for (const child of Object.values(value)) deepFreeze(child)
  }
  return value
}
