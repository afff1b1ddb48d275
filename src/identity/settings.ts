import type { KeyObject } from 'node:crypto'
import { readSecretFile, type Secret } from '../common/secret-file.js'
import type { RedisConfig } from '../state/redis-config.js'
import type { UpstreamIdentityOutput } from './schema.js'
import { parseCacheKey } from './shared-exchange-cache.js'
import { readSigningKey, type SigningKey } from './signing-key.js'

/** How the gateway authenticates to the token endpoint (RFC 6749 §2.3.1, RFC 7523 §2.2). */
export type ClientAuthentication =
  | { readonly method: 'client_secret_basic'; readonly secret: Secret }
  | { readonly method: 'private_key_jwt'; readonly key: SigningKey }

export interface ExchangeSettings {
  readonly mode: 'exchange'
  readonly flavour: 'rfc8693' | 'entra-obo'
  /** `undefined`: from the discovery document of `issuer`. */
  readonly tokenEndpoint: string | undefined
  /** The first authorization server's issuer, whose discovery names the token endpoint. */
  readonly issuer: string
  readonly clientId: string
  readonly clientAuth: ClientAuthentication
  readonly audience: string | undefined
  readonly resource: string | undefined
  readonly scope: readonly string[]
  readonly tools: ReadonlyMap<string, readonly string[]>
  readonly actorToken: 'none' | 'client-credentials'
  readonly appOnlyFallback: 'exchange' | 'refuse' | 'client-credentials'
  readonly header: string
  /** Milliseconds. */
  readonly cacheMarginMs: number
  readonly cacheSize: number
  /** Milliseconds. */
  readonly timeoutMs: number
  /** Exchanged tokens shared through Redis, sealed with `key` (AES-256-GCM); `undefined`: memory only. */
  readonly sharedCache: { readonly redis: RedisConfig; readonly key: KeyObject } | undefined
}

export interface AssertionSettings {
  readonly mode: 'assertion'
  readonly key: SigningKey
  readonly audience: string
  readonly lifetimeSeconds: number
  readonly claims: readonly string[]
  readonly header: string
}

export interface HeadersSettings {
  readonly mode: 'headers'
  /** Header name (lower case) -> claim name. */
  readonly headers: ReadonlyMap<string, string>
}

/** The `upstreamIdentity` part of the runtime `Config`. */
export type UpstreamIdentitySettings = { readonly mode: 'none' } | ExchangeSettings | AssertionSettings | HeadersSettings

export interface IdentityContext {
  name(key: string): string
  strict: boolean
  problems: string[]
  notices: string[]
  /** The backend URL, the assertion's default audience. */
  backendUrl: string
  issuer: string
  /** The `redis` section, which the shared exchange cache needs. */
  redis: RedisConfig | undefined
}

/** Reads the secret and key files of the chosen mode; problems name the setting, never the content. */
export function normalizeUpstreamIdentity(raw: UpstreamIdentityOutput, ctx: IdentityContext): UpstreamIdentitySettings {
  switch (raw.mode) {
    case 'none':
      return { mode: 'none' }
    case 'headers':
      ctx.notices.push(
        `upstream identity goes as plain headers (${Object.keys(raw.headers).join(', ')}): the backend must accept ` +
          'requests from the gateway only, or anyone reaching it can claim to be anyone',
      )
      return { mode: 'headers', headers: new Map(Object.entries(raw.headers).map(([name, claim]) => [name.toLowerCase(), claim])) }
    case 'assertion': {
      const key = readKey(raw.assertion.signingKeyFile as string, 'upstreamIdentity.assertion.signingKeyFile', ctx, { kid: raw.assertion.kid })
      return {
        mode: 'assertion',
        key: key as SigningKey,
        audience: raw.assertion.audience ?? ctx.backendUrl,
        lifetimeSeconds: raw.assertion.lifetimeSeconds,
        claims: raw.assertion.claims,
        header: raw.assertion.header,
      }
    }
    case 'exchange': {
      const e = raw.exchange
      let clientAuth: ClientAuthentication | undefined
      if (e.clientSecretFile !== undefined) {
        const read = readSecretFile(e.clientSecretFile, ctx.name('upstreamIdentity.exchange.clientSecretFile'), ctx.strict)
        ctx.problems.push(...read.problems)
        ctx.notices.push(...read.notices)
        if (read.secret !== undefined) clientAuth = { method: 'client_secret_basic', secret: read.secret }
      } else if (e.privateKeyJwt !== undefined) {
        const key = readKey(e.privateKeyJwt.keyFile, 'upstreamIdentity.exchange.privateKeyJwt.keyFile', ctx, e.privateKeyJwt)
        if (key !== undefined) clientAuth = { method: 'private_key_jwt', key }
      }
      return {
        mode: 'exchange',
        flavour: e.flavour,
        tokenEndpoint: e.tokenEndpoint,
        issuer: ctx.issuer,
        clientId: e.clientId as string,
        clientAuth: clientAuth as ClientAuthentication,
        audience: e.audience,
        resource: e.resource,
        scope: e.scope,
        tools: new Map(Object.entries(e.tools)),
        actorToken: e.actorToken,
        appOnlyFallback: e.appOnlyFallback ?? (e.flavour === 'entra-obo' ? 'refuse' : 'exchange'),
        header: e.header,
        cacheMarginMs: e.cacheMargin,
        cacheSize: e.cacheSize,
        timeoutMs: e.timeout,
        sharedCache: readSharedCache(e.sharedCache.keyFile, ctx),
      }
    }
  }
}

/** The key file read and parsed, and Redis present: sharing asked for without either is a start-up problem. */
function readSharedCache(file: string | undefined, ctx: IdentityContext): ExchangeSettings['sharedCache'] {
  if (file === undefined) return undefined
  const name = ctx.name('upstreamIdentity.exchange.sharedCache.keyFile')
  if (ctx.redis === undefined) {
    ctx.problems.push(`${name} shares exchanged tokens through Redis, but no Redis is set (redis.url, MCP_REDIS_URL)`)
    return undefined
  }
  const read = readSecretFile(file, name, ctx.strict)
  ctx.problems.push(...read.problems)
  ctx.notices.push(...read.notices)
  if (read.secret === undefined) return undefined
  const key = parseCacheKey(read.secret.reveal())
  if (key === undefined) {
    ctx.problems.push(`${name}=${file} is not a 32-byte key in base64 or hex (openssl rand -base64 32)`)
    return undefined
  }
  return { redis: ctx.redis, key }
}

function readKey(
  file: string,
  key: string,
  ctx: IdentityContext,
  options: { alg?: SigningKey['alg'] | undefined; kid?: string | undefined },
): SigningKey | undefined {
  const name = ctx.name(key)
  const read = readSecretFile(file, name, ctx.strict)
  ctx.problems.push(...read.problems)
  ctx.notices.push(...read.notices)
  if (read.secret === undefined) return undefined
  try {
    return readSigningKey(read.secret, options)
  } catch (error) {
    ctx.problems.push(`${name}=${file} ${(error as Error).message}`)
    return undefined
  }
}
