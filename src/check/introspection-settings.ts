import { DEFAULT_ALGORITHMS } from '../config/authorization-server-schema.js'
import { ENV_KEYS } from '../config/env.js'
import type { Config, ResolvedAuthorizationServer } from '../config/normalize.js'

/** The introspection settings of one authorization server, as far as the configuration has them. */
export interface IntrospectionSettings {
  readonly endpoint: string | undefined
  readonly clientId: string | undefined
  readonly clientSecretFile: string | undefined
  /** Milliseconds. */
  readonly cacheMaxTtl: number | undefined
  readonly clientAuth: 'client_secret_basic' | 'client_secret_post'
}

/**
 * Introspection (RFC 7662) is configured per authorization server. Its keys are located through
 * the nginx-mcp-resource variable names in `ENV_KEYS` (`MCP_INTROSPECT_ENDPOINT`, ...), so this
 * follows the schema wherever those keys live; a few likely shapes are tried when a variable is
 * not mapped. Returns `undefined` when nothing about introspection is configured.
 */
export function introspectionSettings(config: Config, index: number): IntrospectionSettings | undefined {
  const as = config.authorizationServers[index]
  if (as === undefined) return undefined
  const read = (envName: string, fallbacks: readonly string[][]): unknown => {
    const key = ENV_KEYS[envName]
    if (key !== undefined) {
      const perServer = 'authorizationServers.0.'
      const value = key.startsWith(perServer) ? readPath(as, key.slice(perServer.length).split('.')) : readPath(config, key.split('.'))
      if (value !== undefined) return value
    }
    for (const path of fallbacks) {
      const value = readPath(as, path)
      if (value !== undefined) return value
    }
    return undefined
  }
  const endpoint = read('MCP_INTROSPECT_ENDPOINT', [['introspection', 'endpoint'], ['introspectionEndpoint'], ['introspectEndpoint']])
  const clientId = read('MCP_CLIENT_ID', [['introspection', 'clientId'], ['clientId']])
  const clientSecretFile = read('MCP_CLIENT_SECRET_FILE', [['introspection', 'clientSecretFile'], ['clientSecretFile']])
  const cacheMaxTtl = read('MCP_INTROSPECT_CACHE_MAX_TTL', [
    ['introspection', 'cacheMaxTtl'],
    ['introspectionCacheMaxTtl'],
    ['introspectCacheMaxTtl'],
  ])
  const mode = (as as { mode?: unknown }).mode
  const configured = [endpoint, clientId, clientSecretFile].some((v) => v !== undefined) || mode === 'introspect'
  if (!configured) return undefined
  return {
    endpoint: asString(endpoint),
    clientId: asString(clientId),
    clientSecretFile: asString(clientSecretFile),
    cacheMaxTtl: typeof cacheMaxTtl === 'number' ? cacheMaxTtl : undefined,
    clientAuth: mentions(as, 'client_secret_post') ? 'client_secret_post' : 'client_secret_basic',
  }
}

/**
 * Whether JWTs of this server are verified with public keys: its mode is not introspection only
 * and it has a key source (a JWKS file or URL, or discovery). An HMAC secret is not a JWKS.
 */
export function usesJwks(as: ResolvedAuthorizationServer): boolean {
  const loose = as as { mode?: unknown; verifiesJwt?: unknown }
  if (loose.mode === 'introspect' || loose.verifiesJwt === false) return false
  return as.jwks !== undefined || as.jwksFile !== undefined || as.jwksUri !== undefined || as.discovery === true
}

/** The JWS algorithms this server's tokens may use (the schema's default when none is resolved). */
export function allowedAlgorithms(as: ResolvedAuthorizationServer): readonly string[] {
  const algorithms = (as as { algorithms?: unknown }).algorithms
  return Array.isArray(algorithms) ? (algorithms as string[]) : DEFAULT_ALGORITHMS
}

function readPath(root: unknown, path: readonly string[]): unknown {
  let node = root
  for (const part of path) {
    if (typeof node !== 'object' || node === null) return undefined
    node = (node as Record<string, unknown>)[part]
  }
  return node
}

function asString(value: unknown): string | undefined {
  if (typeof value === 'string') return value
  if (value instanceof URL) return value.href
  return undefined
}

/** Whether a string value anywhere one level down equals `literal` (the client auth method's key is not fixed yet). */
function mentions(node: unknown, literal: string): boolean {
  if (typeof node !== 'object' || node === null) return false
  return Object.values(node).some(
    (v) => v === literal || (typeof v === 'object' && v !== null && Object.values(v).includes(literal)),
  )
}
