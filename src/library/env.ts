import { mergeSettings } from '../config/load.js'
import { readEnv, setPath } from '../config/env.js'
import { resourceServerSchema, type OptionSources, type ResourceServerOptions } from './options.js'

/**
 * The two variables of the MCP server template's `--oauth` mode, and the `MCP_*` variable each
 * stands beside (which wins when both are set).
 */
const TEMPLATE_ENV = {
  OAUTH_ISSUER_URL: { key: 'authorizationServers.0.issuer', alias: 'MCP_AUTHORIZATION_SERVER' },
  OAUTH_AUDIENCE: { key: 'resource.canonicalUri', alias: 'MCP_CANONICAL_URI' },
} as const

const MISSING = new Map([
  [
    'resource.canonicalUri',
    'OAUTH_AUDIENCE (or MCP_CANONICAL_URI) is required but not set: the canonical URI of this MCP server, ' +
      'e.g. https://mcp.example.com/mcp; tokens must name it as their audience (RFC 8707)',
  ],
  [
    'authorizationServers.0.issuer',
    'OAUTH_ISSUER_URL (or MCP_AUTHORIZATION_SERVER) is required but not set: the issuer URL of the authorization server',
  ],
])

const LIBRARY_SECTIONS = new Set(Object.keys(resourceServerSchema.shape))

/**
 * Environment variables -> options, layered over `base` (later wins, as the gateway layers the
 * environment over its file): the `MCP_*` variables of docs/configuration.md that the library
 * uses, plus `OAUTH_ISSUER_URL` and `OAUTH_AUDIENCE`. Gateway-only variables (`MCP_BACKEND`,
 * `MCP_LISTEN_PORT`, ...) are ignored with a notice.
 */
export function readLibraryEnv(
  env: Readonly<Record<string, string | undefined>>,
  base: Partial<ResourceServerOptions> = {},
): { options: ResourceServerOptions; from: OptionSources } {
  const read = readEnv(env)
  const sources = new Map<string, string>()
  const notices = [...read.ignored]
  const template: Record<string, unknown> = {}
  for (const [name, { key, alias }] of Object.entries(TEMPLATE_ENV)) {
    const value = env[name]
    if (value === undefined || value === '' || (env[alias] ?? '') !== '') continue
    setPath(template, key, value)
    sources.set(key, name)
  }
  const used = Object.fromEntries(Object.entries(read.values).filter(([section]) => LIBRARY_SECTIONS.has(section)))
  for (const [key, name] of read.sources) {
    const section = key.split('.')[0] as string
    if (LIBRARY_SECTIONS.has(section)) sources.set(key, name)
    else notices.push(`${name} is ignored: the library has no ${section} settings`)
  }
  const seeded = typeof base.resource === 'string' ? { ...base, resource: { canonicalUri: base.resource } } : base
  const options = mergeSettings(seeded as Record<string, unknown>, mergeSettings(template, used)) as unknown as ResourceServerOptions
  return { options, from: { sources, problems: read.problems, notices, missing: MISSING } }
}
