import type { z } from 'zod'
import { ConfigError } from '../errors.js'
import { validateSettings } from '../config/load.js'
import { readJwks, resolveOrigins, resolveResource, type Config } from '../config/normalize.js'
import { resolveAuthorizationServers } from '../token/authorization-server-schema.js'
import { configSchema } from '../config/schema.js'
import { resolveRedisConfig } from '../state/redis-config.js'

/**
 * The library's options: the gateway's configuration schema (docs/configuration.md) without what
 * only a proxy needs (`listen`, `workers`, `backend`, TLS, logs, metrics, audit, admin, rate
 * limits). The same fragments, so the same validation messages; an unknown key (one of
 * those) is refused rather than silently ignored.
 */
export const resourceServerSchema = configSchema.pick({
  resource: true,
  authorizationServers: true,
  redis: true,
  scopes: true,
  limits: true,
  origins: true,
})

type SchemaInput = z.input<typeof resourceServerSchema>

/** What `createResourceServer` accepts; `resource` may be just the canonical URI. */
export type ResourceServerOptions = Omit<SchemaInput, 'resource'> & {
  resource: string | SchemaInput['resource']
}

/** The validated, resolved options the core reads (the gateway's `Config`, narrowed). */
export interface ResourceServerConfig
  extends Pick<Config, 'resource' | 'authorizationServers' | 'redis' | 'scopes' | 'limits' | 'origins' | 'notices'> {}

/** How settings were named and gathered, for messages (`fromEnv` names its variables). */
export interface OptionSources {
  sources: ReadonlyMap<string, string>
  problems: readonly string[]
  notices: readonly string[]
  missing?: ReadonlyMap<string, string>
}

const NO_SOURCES: OptionSources = { sources: new Map(), problems: [], notices: [] }

/**
 * Validates and resolves the options; every problem is thrown at once as a `ConfigError`.
 * Unlike the gateway's file, an issuer given alone is found by discovery (RFC 8414 / OIDC), as
 * the MCP authorization spec expects a client to do too.
 */
export function resolveOptions(options: ResourceServerOptions, from: OptionSources = NO_SOURCES): ResourceServerConfig {
  const settings = withLibraryDefaults(options as unknown as Record<string, unknown>)
  const raw = validateSettings(resourceServerSchema, settings, { ...from, file: undefined })
  const problems: string[] = []
  const notices = [...from.notices]
  const name = (key: string): string => from.sources.get(key) ?? key
  const authorizationServers = resolveAuthorizationServers(raw.authorizationServers, {
    name,
    strict: false,
    problems,
    notices,
    readJwks: (file, key) => readJwks(file, name(key), problems),
  })
  const redis = resolveRedisConfig(raw.redis, { name, strict: false, problems, notices })
  if (problems.length > 0) throw new ConfigError(problems)
  return {
    resource: resolveResource(raw.resource),
    authorizationServers,
    redis,
    scopes: raw.scopes,
    limits: raw.limits,
    origins: resolveOrigins(raw.origins, raw.resource.canonicalUri),
    notices,
  }
}

/** Keys that say how an issuer's tokens are checked; without any of them, discovery finds the keys. */
const KEY_SOURCES = ['jwksFile', 'jwksUri', 'hmacSecretFile', 'discovery', 'introspection', 'preset', 'mode']

function withLibraryDefaults(options: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...options }
  if (typeof out.resource === 'string') out.resource = { canonicalUri: out.resource }
  // Seeded so a missing section is reported leaf by leaf, as the gateway does.
  out.resource ??= {}
  const servers = out.authorizationServers ?? [{}]
  out.authorizationServers = Array.isArray(servers)
    ? servers.map((as: unknown) =>
        typeof as === 'object' && as !== null && !KEY_SOURCES.some((key) => key in as) ? { ...as, discovery: true } : as,
      )
    : servers
  return out
}
