import { readFileSync, statSync } from 'node:fs'
import { inspect } from 'node:util'

const REDACTED = '[redacted]'

/**
 * A secret read from a file (client secret, HMAC key, Redis password). The value is reachable only
 * through `reveal()`: serializing, printing or inspecting the config shows `[redacted]`, so a
 * config dump or an error that carries the object never leaks it.
 */
export class Secret {
  readonly #value: string

  constructor(value: string) {
    this.#value = value
  }

  reveal(): string {
    return this.#value
  }

  get byteLength(): number {
    return Buffer.byteLength(this.#value)
  }

  toJSON(): string {
    return REDACTED
  }

  toString(): string {
    return REDACTED
  }

  [inspect.custom](): string {
    return `Secret(${REDACTED})`
  }
}

export interface SecretFileResult {
  secret: Secret | undefined
  problems: string[]
  notices: string[]
}

/**
 * Reads a secret from a file, as nginx-mcp-resource does (its SECURITY.md: "mount it read-only,
 * mode 600"): trailing CR/LF are stripped, an empty file is a problem, and a file that group or
 * others may read is a startup notice, or a problem with `--strict`, since any local user could
 * then act as the gateway. Messages name the setting and the path, never the content.
 *
 * @param name the variable or file key that set the path, for messages (`MCP_CLIENT_SECRET_FILE`)
 */
export function readSecretFile(file: string, name: string, strict: boolean): SecretFileResult {
  const result: SecretFileResult = { secret: undefined, problems: [], notices: [] }
  let mode: number
  let text: string
  try {
    const stats = statSync(file)
    if (!stats.isFile()) {
      result.problems.push(`${name}=${file} is not a regular file`)
      return result
    }
    mode = stats.mode & 0o777
    text = readFileSync(file, 'utf8')
  } catch (error) {
    result.problems.push(`${name}=${file} is not readable (${(error as NodeJS.ErrnoException).code ?? 'error'})`)
    return result
  }
  const value = text.replace(/[\r\n]+$/, '')
  if (value === '') {
    result.problems.push(`${name}=${file} is empty`)
    return result
  }
  if ((mode & 0o044) !== 0) {
    const who = [(mode & 0o040) !== 0 ? 'group' : '', (mode & 0o004) !== 0 ? 'others' : ''].filter(Boolean).join(' and ')
    const message =
      `${name}=${file} is readable by ${who} (mode ${mode.toString(8).padStart(3, '0')}): ` +
      `chmod 600 ${file} (in Kubernetes, defaultMode: 0400 on the secret volume)`
    if (strict) result.problems.push(`${message} [refused by --strict]`)
    else result.notices.push(message)
  }
  result.secret = new Secret(value)
  return result
}
