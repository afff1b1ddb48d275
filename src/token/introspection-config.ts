import type { AuthorizationServerConfig, ResolveContext, ResolvedAuthorizationServer } from './authorization-server-schema.js'
import { isLoopbackHost } from '../common/loopback.js'
import { readSecretFile, type Secret } from '../common/secret-file.js'

/** An issuer's introspection settings, checked, with the client secret read from its file. */
export interface ResolvedIntrospection {
  /** `undefined`: read `introspection_endpoint` from the issuer's metadata (discovery). */
  readonly endpoint: string | undefined
  readonly clientId: string
  readonly clientSecretFile: string
  readonly clientSecret: Secret
  readonly authMethod: 'client_secret_basic' | 'client_secret_post'
  /** Milliseconds; 0 disables the cache of active answers. */
  readonly cacheMaxTtl: number
  /** Milliseconds. */
  readonly inactiveCacheTtl: number
  readonly cacheSize: number
  /** Calls per second to the endpoint, per client address and in total (0: no cap). */
  readonly maxRate: { readonly perClient: number; readonly total: number }
  /** Tokens that are not JWTs go to this issuer. */
  readonly opaqueTokens: boolean
}

/**
 * Checks the introspection settings of an issuer that introspects. Every missing piece is a
 * problem naming its variable; the secret comes from its file only (see `readSecretFile`).
 */
export function resolveIntrospection(
  as: AuthorizationServerConfig,
  at: string,
  ctx: ResolveContext,
): ResolvedIntrospection | undefined {
  const settings = as.introspection
  const key = (name: string) => ctx.name(`${at}.introspection.${name}`)
  const why = '(introspection needs the client the gateway authenticates as)'
  let ok = true
  if (settings?.clientId === undefined) {
    ctx.problems.push(`${key('clientId')} is required but not set ${why}`)
    ok = false
  }
  if (settings?.clientSecretFile === undefined) {
    ctx.problems.push(`${key('clientSecretFile')} is required but not set ${why}; the secret is read from a file only`)
    ok = false
  }
  const endpoint = settings?.endpoint
  if (endpoint === undefined && as.discovery !== true) {
    ctx.problems.push(
      `${key('endpoint')} is required but not set (or turn discovery on to read introspection_endpoint from the issuer's metadata)`,
    )
    ok = false
  } else if (endpoint !== undefined) {
    const url = new URL(endpoint)
    if (url.protocol !== 'https:' && !isLoopbackHost(url.hostname)) {
      ctx.problems.push(
        `${key('endpoint')}: must be https: the gateway sends its client secret and every token there (http is allowed only for loopback hosts)`,
      )
      ok = false
    }
  }
  if (settings === undefined || settings.clientId === undefined || settings.clientSecretFile === undefined) return undefined
  const read = readSecretFile(settings.clientSecretFile, key('clientSecretFile'), ctx.strict)
  ctx.problems.push(...read.problems)
  ctx.notices.push(...read.notices)
  if (!ok || read.secret === undefined) return undefined
  return {
    endpoint,
    clientId: settings.clientId,
    clientSecretFile: settings.clientSecretFile,
    clientSecret: read.secret,
    authMethod: settings.authMethod,
    cacheMaxTtl: settings.cacheMaxTtl,
    inactiveCacheTtl: settings.inactiveCacheTtl,
    cacheSize: settings.cacheSize,
    maxRate: settings.maxRate,
    // Settled across issuers by `assignOpaqueTokens`.
    opaqueTokens: false,
  }
}

/**
 * Decides which issuer receives tokens that are not JWTs. An opaque token does not say who issued
 * it, and RFC 7662 §4 warns that the introspection endpoint learns every token sent to it, so a
 * token is never tried against several endpoints in turn: one issuer is chosen. With a single
 * introspecting issuer it is that one (unless it says `opaqueTokens: false`); with several,
 * exactly one must say `opaqueTokens: true`, or all must say `false`.
 */
export function assignOpaqueTokens(
  servers: ResolvedAuthorizationServer[],
  configured: readonly AuthorizationServerConfig[],
  ctx: Pick<ResolveContext, 'problems'>,
): ResolvedAuthorizationServer[] {
  const introspecting = servers.filter((as) => as.introspection !== undefined)
  const said = (as: ResolvedAuthorizationServer) => configured[servers.indexOf(as)]?.introspection?.opaqueTokens
  let chosen: ResolvedAuthorizationServer | undefined
  if (introspecting.length === 1) {
    const only = introspecting[0] as ResolvedAuthorizationServer
    if (said(only) !== false) chosen = only
  } else if (introspecting.length > 1) {
    const marked = introspecting.filter((as) => said(as) === true)
    if (marked.length === 1) chosen = marked[0]
    else if (marked.length > 1 || introspecting.some((as) => said(as) === undefined)) {
      ctx.problems.push(
        `authorizationServers: ${introspecting.length} issuers use introspection (${introspecting.map((as) => as.issuer).join(', ')}); ` +
          'mark the one that receives opaque tokens with introspection.opaqueTokens: true and the others with false ' +
          '(an opaque token is never sent to several authorization servers)',
      )
    }
  }
  return servers.map((as) => {
    if (as.introspection === undefined) return as
    return { ...as, introspection: { ...as.introspection, opaqueTokens: as === chosen } }
  })
}
