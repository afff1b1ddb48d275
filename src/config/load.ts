import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { parse as parseYaml } from 'yaml'
import type { z } from 'zod'
import { ConfigError } from '../errors.js'
import { ENV_KEYS, readEnv, setPath } from './env.js'
import { normalizeConfig, type Config } from './normalize.js'
import { configSchema } from './schema.js'

export type { Config } from './normalize.js'

export interface LoadConfigOptions {
  env?: Readonly<Record<string, string | undefined>>
  /** CLI arguments after the command name (`--config`, `--port`, ...). */
  argv?: readonly string[]
}

/** Flags that override a setting, and the key each one sets. */
const FLAG_KEYS = {
  host: 'listen.host',
  port: 'listen.port',
  backend: 'backend.url',
  'canonical-uri': 'resource.canonicalUri',
  'log-level': 'log.level',
  workers: 'workers',
} as const

/**
 * Reads the configuration: the file (`--config` or `MCP_CONFIG`), then the environment, then
 * flags; later layers win. Every problem is collected and thrown at once as a `ConfigError`, each
 * naming the variable, file key or flag and what was expected.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<Config> {
  const env = options.env ?? process.env
  const flags = parseFlags(options.argv ?? [])
  const problems: string[] = []
  const sources = new Map<string, string>()

  const file = flags.config ?? (env.MCP_CONFIG || undefined)
  let merged: Record<string, unknown> = {}
  if (file !== undefined) {
    try {
      const parsed: unknown = parseYaml(readFileSync(file, 'utf8'))
      if (parsed !== null && parsed !== undefined) {
        if (typeof parsed !== 'object' || Array.isArray(parsed)) problems.push(`${file}: expected a mapping of settings`)
        else merged = parsed as Record<string, unknown>
      }
    } catch (error) {
      problems.push(`${file}: ${describeFileError(error)}`)
    }
  }

  const fromEnv = readEnv(env)
  problems.push(...fromEnv.problems)
  merged = mergeSettings(merged, fromEnv.values)
  for (const [key, name] of fromEnv.sources) sources.set(key, name)

  const flagValues: Record<string, unknown> = {}
  for (const [flag, key] of Object.entries(FLAG_KEYS)) {
    const value = flags[flag as keyof typeof FLAG_KEYS]
    if (value === undefined) continue
    setPath(flagValues, key, value)
    sources.set(key, `--${flag}`)
  }
  merged = mergeSettings(merged, flagValues)

  // Seed the required sections so a missing one is reported leaf by leaf, each with its variable.
  merged = mergeSettings({ resource: {}, backend: {}, authorizationServers: [{}] }, merged)
  const data = validateSettings(configSchema, merged, { sources, file, problems })

  const name = (key: string): string =>
    sources.get(key) ?? (file === undefined ? (ENV_BY_KEY.get(key) ?? key) : `${file}: ${key}`)
  return normalizeConfig(data, { name, strict: flags.strict === true, file, ignored: fromEnv.ignored })
}

interface Flags {
  config?: string
  strict?: boolean
  host?: string
  port?: string
  backend?: string
  'canonical-uri'?: string
  'log-level'?: string
  workers?: string
}

function parseFlags(argv: readonly string[]): Flags {
  try {
    const { values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        strict: { type: 'boolean' },
        host: { type: 'string' },
        port: { type: 'string' },
        backend: { type: 'string' },
        'canonical-uri': { type: 'string' },
        'log-level': { type: 'string' },
        workers: { type: 'string' },
        json: { type: 'boolean' },
        token: { type: 'string' },
      },
    })
    return values as Flags
  } catch (error) {
    throw new ConfigError([(error as Error).message])
  }
}

/** Deep merge where `over` wins; arrays of objects merge by index (env sets the first issuer). */
export function mergeSettings(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(over)) {
    const current = out[key]
    if (Array.isArray(value) && Array.isArray(current) && value.some(isPlainObject)) {
      const merged = [...current]
      value.forEach((item, i) => {
        merged[i] = isPlainObject(item) && isPlainObject(merged[i]) ? mergeSettings(merged[i], item) : item
      })
      out[key] = merged
    } else if (isPlainObject(value) && isPlainObject(current)) {
      out[key] = mergeSettings(current, value)
    } else {
      out[key] = value
    }
  }
  return out
}

export interface ValidateContext {
  /** Dotted key -> the variable or flag that set it. */
  sources: ReadonlyMap<string, string>
  /** The file the settings came from, if any. */
  file: string | undefined
  /** Problems found before validation (refused variables, an unreadable file), reported with the rest. */
  problems: readonly string[]
  /** Dotted key -> the message when that required key is not set, instead of the generic one. */
  missing?: ReadonlyMap<string, string>
}

/**
 * Validates file-shaped settings against `schema` (the gateway's, or the library's narrower one):
 * every problem, each naming the variable, flag or key that set it, is thrown at once.
 */
export function validateSettings<S extends z.ZodType>(schema: S, merged: Record<string, unknown>, ctx: ValidateContext): z.output<S> {
  const problems = [...ctx.problems]
  const result = schema.safeParse(merged)
  if (!result.success) problems.push(...result.error.issues.map((issue) => describeIssue(issue, ctx, merged)))
  if (problems.length > 0) throw new ConfigError(problems)
  return result.data as z.output<S>
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

const ENV_BY_KEY = new Map(Object.entries(ENV_KEYS).map(([name, key]) => [key, name]))

function describeIssue(issue: z.core.$ZodIssue, ctx: ValidateContext, input: Record<string, unknown>): string {
  const { sources, file } = ctx
  const key = issue.path.join('.')
  // The longest prefix of the path that a variable or flag set names the setting.
  let source: string | undefined
  let envName: string | undefined
  for (let i = issue.path.length; i > 0 && source === undefined && envName === undefined; i--) {
    const prefix = issue.path.slice(0, i).join('.')
    source = sources.get(prefix)
    envName = ENV_BY_KEY.get(prefix)
  }
  if (issue.code === 'invalid_type' && readPath(input, issue.path) === undefined) {
    const missing = ctx.missing?.get(key)
    if (missing !== undefined) return missing
    const where = envName === undefined ? `file key ${key}` : `${envName} (file key ${key})`
    return `${where} is required but not set`
  }
  if (source !== undefined) return `${source}: ${issue.message}`
  if (file !== undefined) return `${file}: ${key === '' ? '(top level)' : key}: ${issue.message}`
  return `${envName ?? key}: ${issue.message}`
}

function readPath(input: unknown, path: readonly PropertyKey[]): unknown {
  let node = input
  for (const part of path) {
    if (typeof node !== 'object' || node === null) return undefined
    node = (node as Record<PropertyKey, unknown>)[part]
  }
  return node
}

function describeFileError(error: unknown): string {
  const e = error as NodeJS.ErrnoException
  if (e.code === 'ENOENT') return 'file not found'
  if (e.code === 'EACCES') return 'permission denied'
  return `not valid YAML (${e.message.split('\n')[0]})`
}
