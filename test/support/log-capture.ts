import { subscribe } from 'node:diagnostics_channel'
import { appendFileSync, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { createAuditTrail } from '../../src/observability/audit.js'
import { attachLogger, createLogger } from '../../src/observability/log.js'

/**
 * Captures, for the whole test run, every log line the gateway writes and every secret the tests
 * sent, so that the last test (test/integration/zz-log-scan.test.ts) can grep the one for the
 * other. Importing this module turns it on for the process (idempotent):
 *
 * - a `trace`-level logger and an audit trail subscribe to the gateway's channels and write to
 *   `.tmp/test-logs/<run>/<pid>.log` and `<pid>.audit` (every in-process gateway logs there);
 * - every Authorization value seen by an in-process HTTP server (`http.server.request.start`) or
 *   sent by fetch/undici (`undici:request:create`) is appended to `<pid>.secrets`: Bearer tokens,
 *   and the password of Basic credentials (client secrets of introspection and token calls);
 * - `captureStream` copies a spawned gateway's stdout/stderr into the same folder.
 *
 * `<run>` is the test runner's pid (each test file runs in a child of it), so files of one run
 * sit together and the scan ignores older runs. Import it from a test file, or preload it for
 * every file: `node --import tsx --import ./test/support/log-capture.ts --test ...`.
 */

export const LOG_ROOT = fileURLToPath(new URL('../../.tmp/test-logs/', import.meta.url))
export const RUN_DIR = join(LOG_ROOT, String(process.ppid))

const MIN_BEARER_LENGTH = 16
const MIN_PASSWORD_LENGTH = 12

const installed = Symbol.for('mcp-resource-gateway.test.logCapture')
const state = globalThis as Record<symbol, unknown>
const recorded = new Set<string>()
let childStreams = 0

function install(): void {
  if (state[installed] === true) return
  state[installed] = true
  mkdirSync(RUN_DIR, { recursive: true })
  const logger = createLogger('trace', pino.destination({ dest: join(RUN_DIR, `${process.pid}.log`), sync: true }))
  attachLogger(logger)
  // Every path counts as a call here: the scan wants every record the trail could ever write.
  createAuditTrail({ resourcePath: '/', excluded: [], file: join(RUN_DIR, `${process.pid}.audit`) })

  subscribe('http.server.request.start', (message) => {
    const { request } = message as { request: { headers: Record<string, string | string[] | undefined> } }
    recordAuthorization(request.headers['authorization'])
  })
  subscribe('undici:request:create', (message) => {
    const { request } = message as { request: { headers: string | string[] } }
    recordAuthorization(authorizationFromUndici(request.headers))
  })
}

function authorizationFromUndici(headers: string | string[]): string[] {
  const found: string[] = []
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i += 2) {
      if (String(headers[i]).toLowerCase() === 'authorization') found.push(String(headers[i + 1]))
    }
  } else {
    for (const line of headers.split('\r\n')) {
      const colon = line.indexOf(':')
      if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === 'authorization') found.push(line.slice(colon + 1).trim())
    }
  }
  return found
}

function recordAuthorization(value: string | string[] | undefined): void {
  for (const header of value === undefined ? [] : Array.isArray(value) ? value : [value]) {
    const [scheme, credentials] = header.trim().split(/\s+/, 2)
    if (credentials === undefined) continue
    if (scheme?.toLowerCase() === 'basic') {
      const decoded = Buffer.from(credentials, 'base64').toString('utf8')
      const password = decoded.slice(decoded.indexOf(':') + 1)
      if (password.length < MIN_PASSWORD_LENGTH) continue
      recordSecret(password)
      // client_secret_basic form-encodes the secret first (RFC 6749 §2.3.1).
      try {
        recordSecret(decodeURIComponent(password.replace(/\+/g, ' ')))
      } catch {
        // not percent-encoded
      }
    } else if (credentials.length >= MIN_BEARER_LENGTH) {
      recordSecret(credentials)
    }
  }
}

/** Adds a value the logs must never contain (a token, a client secret, an argument canary). */
export function recordSecret(value: string): void {
  install()
  if (recorded.has(value)) return
  recorded.add(value)
  appendFileSync(join(RUN_DIR, `${process.pid}.secrets`), `${JSON.stringify(value)}\n`)
}

/** Copies a child process's output (a spawned gateway's logs) into the run's folder. */
export function captureStream(stream: Readable, name: string): void {
  install()
  const out = createWriteStream(join(RUN_DIR, `${process.pid}-${++childStreams}-${name}.log`), { flags: 'a' })
  stream.pipe(out)
}

export interface ScanFinding {
  file: string
  /** Which part leaked: `whole`, `jwt payload`, `jwt signature`, ... (never the value itself). */
  part: string
  /** Index of the secret in the run's list, to find it by hand. */
  secret: number
}

export interface ScanResult {
  secrets: number
  files: number
  bytes: number
  findings: ScanFinding[]
}

/**
 * Greps every captured output file of a run for every recorded secret, and for the parts of a JWT
 * that carry something (payload, signature, and 16-character ends of the signature, so a
 * truncated token is found too). The JWT header is public and not searched.
 */
export function scanRun(dir = RUN_DIR): ScanResult {
  const secrets: string[] = []
  const outputs: string[] = []
  for (const name of existsSync(dir) ? readdirSync(dir) : []) {
    if (name.endsWith('.secrets')) {
      for (const line of readFileSync(join(dir, name), 'utf8').split('\n')) if (line !== '') secrets.push(JSON.parse(line) as string)
    } else {
      outputs.push(name)
    }
  }
  const unique = [...new Set(secrets)]
  const findings: ScanFinding[] = []
  let bytes = 0
  for (const name of outputs) {
    const text = readFileSync(join(dir, name), 'utf8')
    bytes += text.length
    unique.forEach((secret, index) => {
      for (const [part, needle] of needles(secret)) {
        if (text.includes(needle)) {
          findings.push({ file: name, part, secret: index })
          break
        }
      }
    })
  }
  return { secrets: unique.length, files: outputs.length, bytes, findings }
}

function needles(secret: string): Array<[string, string]> {
  const out: Array<[string, string]> = [['whole', secret]]
  const parts = secret.split('.')
  if (parts.length === 3) {
    const [, payload = '', signature = ''] = parts
    if (payload.length >= MIN_BEARER_LENGTH) out.push(['jwt payload', payload])
    if (signature.length >= MIN_BEARER_LENGTH) {
      out.push(['jwt signature', signature], ['jwt signature start', signature.slice(0, 16)], ['jwt signature end', signature.slice(-16)])
    }
  }
  return out
}

install()
