import { readFileSync } from 'node:fs'
import { cpus } from 'node:os'
import type { JSONWebKeySet } from 'jose'
import { ConfigError } from '../errors.js'
import { isLoopbackHost } from '../common/loopback.js'
import { protectedResourceMetadataPaths, protectedResourceMetadataUrl } from '../metadata/protected-resource.js'
import { resolveAuthorizationServers, type ResolvedAuthorizationServer } from '../token/authorization-server-schema.js'
import { resolveRedisConfig, type RedisConfig } from '../state/redis-config.js'
import type { ConfigOutput } from './schema.js'
import { normalizeRateLimit, type RateLimitSettings } from '../ratelimit/settings.js'
import type { SenderConstraintSettings } from '../token/sender-constraint-config.js'
import { readSecretFile, type Secret } from '../common/secret-file.js'
import { normalizeUpstreamIdentity, type UpstreamIdentitySettings } from '../identity/settings.js'

export type { ResolvedAuthorizationServer } from '../token/authorization-server-schema.js'

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
  readonly upstreamIdentity: UpstreamIdentitySettings
  readonly limits: ConfigOutput['limits']
  readonly tls: ConfigOutput['tls']
  readonly origins: { readonly any: boolean; readonly allowed: ReadonlySet<string> }
  readonly log: ConfigOutput['log']
  readonly rateLimit: RateLimitSettings
  /** `nonceSecret`: the key sealing DPoP nonces, read once from `nonceSecretFile` with the secret-file rules. */
  readonly senderConstraint: SenderConstraintSettings & { readonly nonceSecret: Secret | undefined }
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
  /** Start without checking the authorization servers' keys (`/readyz` fails until they load). */
  readonly startWithoutKeys: boolean
  /** Start-up notices (insecure or ineffective choices), logged once as warnings. */
  readonly notices: readonly string[]
  /** Variables of other programs accepted without effect, each with why; logged once at info. */
  readonly ignored: readonly string[]
  readonly file: string | undefined
}

export interface NormalizeContext {
  /** The variable, flag or file key that set a dotted key, for messages. */
  name(key: string): string
  strict: boolean
  file: string | undefined
  ignored: readonly string[]
}


/** Cross-field checks and derived values; throws every problem at once. */
export function normalizeConfig(raw: ConfigOutput, ctx: NormalizeContext): Config {
  const problems: string[] = []
  const notices: string[] = []


  const tls = raw.tls
  if (tls.enabled) {
    for (const key of ['certFile', 'keyFile'] as const) checkReadable(tls[key] as string, ctx.name(`tls.${key}`), problems)
  }
  if (tls.clientCaFile !== undefined) checkReadable(tls.clientCaFile, ctx.name('tls.clientCaFile'), problems)
  const senderConstraint = raw.senderConstraint
  if (senderConstraint.mtls !== 'off' && !(tls.enabled && tls.clientCaFile !== undefined) && senderConstraint.forwardedCertificateHeader === undefined) {
    problems.push(
      `${ctx.name('senderConstraint.mtls')}=${senderConstraint.mtls} needs client certificates: MCP_TLS=on with MCP_TLS_CLIENT_CA_FILE, ` +
        'or senderConstraint.forwardedCertificateHeader behind a TLS-terminating proxy',
    )
  }
  let nonceSecret: Secret | undefined
  if (senderConstraint.nonceSecretFile !== undefined) {
    const name = ctx.name('senderConstraint.nonceSecretFile')
    const read = readSecretFile(senderConstraint.nonceSecretFile, name, ctx.strict)
    problems.push(...read.problems)
    notices.push(...read.notices)
    if (read.secret !== undefined && Buffer.byteLength(read.secret.reveal()) < 32) problems.push(`${name} must hold at least 32 bytes`)
    nonceSecret = read.secret
  }
  if (senderConstraint.forwardedCertificateHeader !== undefined && raw.trustedProxies.length === 0) {
    problems.push(`${ctx.name('senderConstraint.forwardedCertificateHeader')} needs MCP_TRUSTED_PROXIES (trustedProxies): the header is read only from them`)
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
  const upstreamIdentity = normalizeUpstreamIdentity(raw.upstreamIdentity, {
    name: ctx.name,
    strict: ctx.strict,
    problems,
    notices,
    backendUrl: backendUrl.href,
    issuer: raw.authorizationServers[0]?.issuer ?? '',
    redis,
  })

  const listenHost = raw.listen.host
  if (!tls.enabled && !isLoopbackHost(listenHost)) {
    notices.push(
      `TLS is off while listening on ${listenHost}: keep the hop from the TLS-terminating load balancer inside one trust boundary`,
    )
  }

  const workers = raw.workers === 'auto' ? Math.max(1, cpus().length) : raw.workers
  const rateLimit = normalizeRateLimit(raw.rateLimit, ctx.name, problems, notices, workers, ctx.strict, redis !== undefined)

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

  const config: Config = {
    listen: { host: listenHost, port: raw.listen.port ?? (tls.enabled ? 443 : 80) },
    workers,
    resource: resolveResource(raw.resource),
    authorizationServers,
    redis,
    scopes: raw.scopes,
    backend: {
      connectTimeout: raw.backend.connectTimeout,
      headersTimeout: raw.backend.headersTimeout,
      bodyTimeout: raw.backend.bodyTimeout,
      connections: raw.backend.connections,
      forwardCookies: raw.backend.forwardCookies,
      protocolVersions: raw.backend.protocolVersions,
      origin: backendUrl.origin,
      basePath: backendUrl.pathname === '/' ? '' : backendUrl.pathname.replace(/\/$/, ''),
    },
    upstreamIdentity,
    limits: raw.limits,
    tls,
    origins: resolveOrigins(raw.origins, raw.resource.canonicalUri),
    log: raw.log,
    rateLimit,
    senderConstraint: { ...senderConstraint, nonceSecret },
    audit: raw.audit,
    metrics: raw.metrics,
    admin: { ...raw.admin, token: adminToken },
    authFailures: raw.authFailures,
    trustedProxies: raw.trustedProxies,
    shutdownTimeout: raw.shutdownTimeout,
    strict: ctx.strict,
    startWithoutKeys: raw.startWithoutKeys,
    notices,
    ignored: ctx.ignored,
    file: ctx.file,
  }
  return deepFreeze(config)
}

/** The protected resource's derived URLs and paths (RFC 9728 §3.1), shared by the gateway and the library. */
export function resolveResource(raw: ConfigOutput['resource']): Config['resource'] {
  // Kept exactly as configured: the metadata `resource` must equal what clients were told.
  const canonicalUri = raw.canonicalUri
  const extraMetadataPath = raw.metadataUri === undefined ? [] : [new URL(raw.metadataUri).pathname]
  return {
    canonicalUri,
    path: raw.path ?? new URL(canonicalUri).pathname,
    metadataUri: raw.metadataUri ?? protectedResourceMetadataUrl(canonicalUri),
    metadataPaths: protectedResourceMetadataPaths(canonicalUri, extraMetadataPath),
    documentation: raw.documentation,
    name: raw.name,
    bearerMethodsSupported: raw.bearerMethodsSupported,
  }
}

/** Browser origins allowed on the MCP path; by default the canonical URI's (loopback ones always pass). */
export function resolveOrigins(raw: ConfigOutput['origins'], canonicalUri: string): Config['origins'] {
  const allowed = raw.allowed ?? [new URL(canonicalUri).origin]
  return {
    any: allowed.includes('*'),
    allowed: new Set(allowed.filter((o) => o !== '*').map((o) => o.replace(/\/$/, '').toLowerCase())),
  }
}

/** Reads a JWKS file named by `name`, adding a problem (never throwing) when it is not one. */
export function readJwks(file: string, name: string, problems: string[]): JSONWebKeySet | undefined {
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
