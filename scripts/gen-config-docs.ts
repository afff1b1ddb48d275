/**
 * Writes docs/configuration.md from the config schema (src/config/schema.ts) and the variable map
 * (src/config/env.ts), and the option reference of docs/library.md from the library's narrower
 * schema (src/library/options.ts), so neither can drift: `npm run docs`. The test
 * test/unit/docs/configuration-docs.test.ts fails when the committed file differs from what this
 * renders.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { z } from 'zod'
import { ENV_KEYS, IGNORED_ENV, REFUSED_ENV } from '../src/config/env.js'
import { configSchema } from '../src/config/schema.js'
import { resourceServerSchema } from '../src/library/options.js'
import { duration, list, onOff, size } from '../src/common/units.js'

type Schema = z.core.$ZodType
interface Def {
  type: string
  innerType?: Schema
  defaultValue?: unknown
  shape?: Record<string, Schema>
  element?: Schema
  options?: Schema[]
  in?: Schema
  out?: Schema
  keyType?: Schema
  valueType?: Schema
  entries?: Record<string, string>
  values?: unknown[]
  format?: string
  checks?: { _zod: { def: { check?: string; format?: string } } }[]
}

interface Row {
  key: string
  type: string
  required: boolean
  defaultText: string | undefined
  env: string | undefined
  description: string
}

const WRAPPERS = new Set(['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch', 'nonoptional'])
const OUTPUT = fileURLToPath(new URL('../docs/configuration.md', import.meta.url))

function defOf(schema: Schema): Def {
  return schema._zod.def as unknown as Def
}

function descriptionOf(schema: Schema): string | undefined {
  return (schema as { description?: string }).description
}

/** Peels optional/default/prefault wrappers, keeping the outermost description and the default. */
function unwrap(schema: Schema): { inner: Schema; optional: boolean; defaultValue: unknown; hasDefault: boolean; description: string | undefined } {
  let node = schema
  let optional = false
  let hasDefault = false
  let defaultValue: unknown
  let description = descriptionOf(node)
  for (;;) {
    const def = defOf(node)
    if (!WRAPPERS.has(def.type) || def.innerType === undefined) break
    if (def.type === 'optional') optional = true
    if ((def.type === 'default' || def.type === 'prefault') && !hasDefault) {
      hasDefault = true
      defaultValue = def.defaultValue
    }
    node = def.innerType
    description ??= descriptionOf(node)
  }
  return { inner: node, optional, defaultValue, hasDefault, description }
}

/** A short, readable type for the reference (the unit helpers by name). */
function typeName(schema: Schema): string {
  if (schema === duration) return 'duration'
  if (schema === size) return 'size'
  if (schema === onOff) return '`on`/`off`'
  if (schema === list) return 'list of string'
  const def = defOf(schema)
  switch (def.type) {
    case 'optional':
    case 'default':
    case 'prefault':
    case 'nullable':
    case 'readonly':
      return typeName(def.innerType as Schema)
    case 'pipe':
      if (def.in === list) return `list of ${typeName(defOf(def.out as Schema).element ?? (def.out as Schema))}`
      if (defOf(def.out as Schema).type === 'transform') return typeName(def.in as Schema)
      return typeName(def.in as Schema)
    case 'string':
      return def.format === 'url' ? 'URL' : 'string'
    case 'number':
      return def.checks?.some((c) => c._zod.def.format === 'safeint') === true ? 'integer' : 'number'
    case 'boolean':
      return 'boolean'
    case 'enum':
      return Object.values(def.entries ?? {}).map((v) => `\`${v}\``).join(' | ')
    case 'literal':
      return (def.values ?? []).map((v) => `\`${String(v)}\``).join(' | ')
    case 'union':
      return [...new Set((def.options ?? []).map(typeName))].join(' | ')
    case 'array':
      return `list of ${typeName(def.element as Schema)}`
    case 'record':
      return `map: name → ${typeName(def.valueType as Schema)}`
    case 'object':
      return 'object'
    default:
      return def.type
  }
}

function formatDefault(value: unknown, type: string): string | undefined {
  if (value === undefined) return undefined
  if (type === 'duration' && typeof value === 'number') return `\`${value}s\``
  if (Array.isArray(value)) return value.length === 0 ? '`[]`' : `\`${value.join(', ')}\``
  if (typeof value === 'object' && value !== null) return Object.keys(value).length === 0 ? undefined : `\`${JSON.stringify(value)}\``
  return `\`${String(value)}\``
}

const ENV_BY_KEY = new Map(Object.entries(ENV_KEYS).map(([name, key]) => [key, name]))

/** `authorizationServers[].issuer` -> `MCP_AUTHORIZATION_SERVER` (the first server). */
function envFor(key: string): string | undefined {
  return ENV_BY_KEY.get(key.replace(/\[\]/g, '.0'))
}

/** Drops the description's own "Env: `X`." sentence when the Env column says the same. */
function withoutEnvSentence(description: string, env: string | undefined): string {
  if (env === undefined) return description
  return description.replace(/\s*Env: `(MCP_[A-Z0-9_]+)[^`]*`[^.]*\./, (sentence, name: string) => (name === env ? '' : sentence)).trim()
}

function isObject(schema: Schema): boolean {
  return defOf(schema).type === 'object'
}

/** Every documented key under `schema`, depth first, in schema order. */
function collect(schema: Schema, path: string, rows: Row[], intros: Map<string, string>): void {
  const { inner, optional, defaultValue, hasDefault, description } = unwrap(schema)
  const def = defOf(inner)
  if (def.type === 'object' && def.shape !== undefined) {
    if (path !== '' && description !== undefined) intros.set(path, description)
    for (const [name, child] of Object.entries(def.shape)) collect(child, path === '' ? name : `${path}.${name}`, rows, intros)
    return
  }
  if (def.type === 'array' && def.element !== undefined && isObject(unwrap(def.element).inner)) {
    // A list of objects is a section of its own: its description introduces the element's keys.
    if (description !== undefined) intros.set(path, `${description}${optional || hasDefault ? '' : ' Required: at least one entry.'}`)
    collect(unwrap(def.element).inner, `${path}[]`, rows, intros)
    return
  }
  const type = typeName(inner)
  const env = envFor(path)
  rows.push({
    key: path,
    type,
    required: !optional && !hasDefault,
    defaultText: formatDefault(defaultValue, type),
    env,
    description: withoutEnvSentence(description ?? '', env),
  })
  if (def.type === 'union') {
    for (const option of def.options ?? []) {
      const unwrapped = unwrap(option).inner
      if (isObject(unwrapped)) collect(unwrapped, path, rows, intros)
    }
  }
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ')
}

/** One table per section of `schema`, each under a heading of `level` (`##`, `###`). */
function renderKeyTables(schema: Schema, level: string): string[] {
  const rows: Row[] = []
  const intros = new Map<string, string>()
  collect(schema, '', rows, intros)

  const sections = new Map<string, Row[]>()
  for (const row of rows) {
    const section = row.key.includes('.') || row.key.includes('[]') ? (row.key.split(/[.[]/)[0] as string) : ''
    const list = sections.get(section) ?? []
    list.push(row)
    sections.set(section, list)
  }

  const out: string[] = []
  const order = [...sections.keys()].sort((a, b) => (a === '' ? -1 : b === '' ? 1 : 0))
  for (const section of order) {
    const sectionRows = sections.get(section) as Row[]
    out.push(section === '' ? `${level} Top-level keys` : `${level} \`${section}\``, '')
    const intro = intros.get(section) ?? (section === '' ? undefined : sectionRows.find((r) => r.key === section)?.description)
    if (intro !== undefined && intro !== '') out.push(intro, '')
    out.push('| Key | Type | Default | Env | Description |', '| --- | --- | --- | --- | --- |')
    for (const row of sectionRows) {
      const defaultText = row.defaultText ?? (row.required ? '**required**' : '')
      const env = row.env === undefined ? '' : `\`${row.env}\``
      out.push(`| \`${row.key}\` | ${cell(row.type)} | ${cell(defaultText)} | ${env} | ${cell(row.description)} |`)
    }
    out.push('')
  }
  return out
}

/** The whole document, deterministic for a given schema. */
export function renderConfigurationDocs(): string {
  const out: string[] = [
    '# Configuration reference',
    '',
    '<!-- Generated by `npm run docs` (scripts/gen-config-docs.ts) from src/config/schema.ts and',
    '     src/config/env.ts. Do not edit by hand: change the schema descriptions and regenerate. -->',
    '',
    'Three layers, later wins: a YAML file (`--config FILE` or `MCP_CONFIG`), then `MCP_*` environment',
    'variables, then command-line flags. Everything is validated at start; every problem is printed with',
    'the variable or file key that set it, and the process exits before it listens.',
    '`mcp-resource-gateway check` validates the same configuration and the live authorization server.',
    '',
    '- **duration**: `500ms`, `30s`, `5m`, `1h`; a bare number is seconds.',
    '- **size**: `65536`, `512k`, `1m`, `1g`; a bare number is bytes.',
    '- **list**: a YAML list, or in the environment a string separated by commas or spaces.',
    '- **`on`/`off`**: also `true`/`false`.',
    '- A variable that is set but empty counts as unset. Variables configure the first entry of',
    '  `authorizationServers`; more servers need the file.',
    '- Any other `MCP_*` variable is an error at start that names the nearest known one (`MCP_REQUIRED_SCOPES`:',
    '  "did you mean MCP_REQUIRED_SCOPE?"), as an unknown file key is: a misspelt variable must not',
    '  start a gateway without the setting. Besides the table below, the gateway reads `MCP_CONFIG`',
    '  (the file) and `probe` reads `MCP_PROBE_TOKEN`.',
    '',
    '## Environment variables',
    '',
    '| Variable | File key |',
    '| --- | --- |',
    ...Object.entries(ENV_KEYS).map(([name, key]) => `| \`${name}\` | \`${key.replace(/\.0\./g, '[0].')}\` |`),
    '',
  ]
  const refused = Object.entries(REFUSED_ENV)
  if (refused.length > 0) {
    out.push('Refused at start (the gateway exits with the reason):', '')
    for (const [name, reason] of refused) out.push(`- \`${name}\`: ${reason}`)
    out.push('')
  }
  const ignored = Object.entries(IGNORED_ENV)
  if (ignored.length > 0) {
    out.push('Accepted for compatibility with nginx-mcp-resource, without effect (logged at info at start):', '')
    for (const [name, reason] of ignored) out.push(`- \`${name}\`: ${reason}`)
    out.push('')
  }

  out.push(...renderKeyTables(configSchema as unknown as Schema, '##'))
  return `${out.join('\n').trimEnd()}\n`
}

const LIBRARY_OUTPUT = fileURLToPath(new URL('../docs/library.md', import.meta.url))
export const LIBRARY_MARKER = '<!-- Generated below by `npm run docs` (scripts/gen-config-docs.ts) from src/library/options.ts. -->'

/**
 * docs/library.md: its hand-written part (everything above `LIBRARY_MARKER`) kept, then the
 * option reference rendered from the library's schema, the gateway's tables narrowed.
 */
export function renderLibraryDocs(current: string): string {
  const at = current.indexOf(LIBRARY_MARKER)
  if (at === -1) throw new Error(`docs/library.md lacks the line ${LIBRARY_MARKER}`)
  const out = [
    current.slice(0, at) + LIBRARY_MARKER,
    '',
    'The keys of `createResourceServer(options)`; `fromEnv` reads the variables in the Env column, plus',
    '`OAUTH_ISSUER_URL` (for `authorizationServers[0].issuer`) and `OAUTH_AUDIENCE` (for',
    '`resource.canonicalUri`). Types and units are those of [the configuration reference](configuration.md).',
    '',
    ...renderKeyTables(resourceServerSchema as unknown as Schema, '###'),
  ]
  return `${out.join('\n').trimEnd()}\n`
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(OUTPUT, renderConfigurationDocs())
  console.log(`wrote ${OUTPUT}`)
  writeFileSync(LIBRARY_OUTPUT, renderLibraryDocs(readFileSync(LIBRARY_OUTPUT, 'utf8')))
  console.log(`wrote ${LIBRARY_OUTPUT}`)
}
