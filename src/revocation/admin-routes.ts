import { hash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { decodeJwt } from 'jose'
import { z } from 'zod'
import type { Secret } from '../common/secret-file.js'
import { SharedStateUnavailable } from '../state/expiring-set.js'
import { TokenCache } from '../common/token-cache.js'
import { publishRevocation, revocationId, revocationKind, type Revocations } from './revocations.js'

export interface RevocationRoutesOptions {
  revocations: Revocations
  /** The admin bearer secret (`MCP_ADMIN_TOKEN_FILE`). */
  adminToken: Secret
  /** Configured issuers by every `iss` string they accept, to the configured issuer. */
  issuers: ReadonlyMap<string, string>
  /** `until` when none is given: the longest token lifetime the gateway accepts, in ms. */
  defaultTtlMs: number
  /** Largest clock skew of the issuers, in ms (a token revoked by value holds until `exp` plus it). */
  clockSkewMs: number
}

const MAX_BODY = 16 * 1024

/** `until`: a NumericDate (seconds since the epoch, RFC 7519 §2), in the future. */
const until = z.number().positive().optional()
const revocationBody = z.union([
  z.strictObject({ jti: z.string().min(1).max(1024), until }),
  z.strictObject({ sub: z.string().min(1).max(1024), iss: z.string().min(1).max(2048), until }),
  z.strictObject({ client_id: z.string().min(1).max(1024), until }),
  z.strictObject({ token: z.string().min(1).max(64 * 1024), until }),
])

/**
 * The admin listener's revocation routes (docs/security.md "Revocation"), behind the admin bearer
 * secret:
 *
 *   POST   /admin/revocations       {"jti"} | {"sub","iss"} | {"client_id"} | {"token"}, optional "until"
 *   GET    /admin/revocations       the active revocations: ids (hashes) and ends, never a token or claim
 *   DELETE /admin/revocations/<id>  lifts one
 *   POST   /admin/revoke            RFC 7009 §2.1 form (`token`, `token_type_hint`); 200 whatever the token
 *
 * Returns whether the path was one of these (the caller answers 404 otherwise).
 */
export function createRevocationRoutes(options: RevocationRoutesOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const expected = hash('sha256', options.adminToken.reveal(), 'buffer')
  const authorized = (req: IncomingMessage): boolean => {
    const header = req.headers.authorization
    const match = header === undefined ? null : /^Bearer ([^\s]+)$/i.exec(header)
    if (match === null) return false
    return timingSafeEqual(hash('sha256', match[1] as string, 'buffer'), expected)
  }
  const { revocations } = options

  async function add(req: IncomingMessage, res: ServerResponse, id: string, untilMs: number): Promise<void> {
    let shared = true
    try {
      await revocations.set.add(id, untilMs)
    } catch (error) {
      if (!(error instanceof SharedStateUnavailable)) throw error
      shared = false
    }
    publishRevocation({ action: 'revoke', id, kind: revocationKind(id), until: untilMs, by: peer(req), shared })
    const body = { id, kind: revocationKind(id), until: Math.ceil(untilMs / 1000) }
    if (shared) return json(res, 201, body)
    // Held by this process only until it reloads the shared set: the operator must post again.
    json(res, 503, { ...body, error: 'unavailable', error_description: 'Revoked on this replica only: the shared store is unavailable; post again' }, { 'retry-after': '5' })
  }

  async function post(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const text = await readBody(req)
    let parsed: z.output<typeof revocationBody>
    try {
      const result = revocationBody.safeParse(JSON.parse(text))
      if (!result.success) throw new Error('shape')
      parsed = result.data
    } catch {
      return json(res, 400, {
        error: 'invalid_request',
        error_description: 'Expected one of {"jti"}, {"sub","iss"}, {"client_id"}, {"token"}, with an optional "until" (seconds since the epoch)',
      })
    }
    const now = Date.now()
    if (parsed.until !== undefined && parsed.until * 1000 <= now) {
      return json(res, 400, { error: 'invalid_request', error_description: '"until" is in the past' })
    }
    let id: string
    if ('jti' in parsed) id = revocationId('jti', parsed.jti)
    else if ('sub' in parsed) {
      const issuer = options.issuers.get(parsed.iss)
      if (issuer === undefined) return json(res, 400, { error: 'invalid_request', error_description: '"iss" is not a configured issuer' })
      id = revocationId('sub', { iss: issuer, sub: parsed.sub })
    } else if ('client_id' in parsed) id = revocationId('client_id', parsed.client_id)
    else return add(req, res, revocationId('token', TokenCache.key(parsed.token)), parsed.until === undefined ? tokenEnd(parsed.token, now) : parsed.until * 1000)
    return add(req, res, id, parsed.until === undefined ? now + options.defaultTtlMs : parsed.until * 1000)
  }

  /** A JWT holds until its `exp` (plus skew); anything else for the default. Read, not verified: it only bounds the entry. */
  function tokenEnd(token: string, now: number): number {
    const longest = now + options.defaultTtlMs
    try {
      const exp = decodeJwt(token).exp
      if (typeof exp === 'number' && exp * 1000 > now) return Math.min(longest, exp * 1000 + options.clockSkewMs)
    } catch {
      // Not a JWT: held for the default.
    }
    return longest
  }

  async function revokeForm(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase()
    const text = await readBody(req)
    const token = type === 'application/x-www-form-urlencoded' ? new URLSearchParams(text).get('token') : null
    // RFC 7009 §2.1: `token` is required; §2.2: an unknown or invalid token is still a 200.
    if (token === null || token === '') return json(res, 400, { error: 'invalid_request', error_description: 'Expected a form with token' })
    const id = revocationId('token', TokenCache.key(token))
    const untilMs = tokenEnd(token, Date.now())
    let shared = true
    try {
      await revocations.set.add(id, untilMs)
    } catch (error) {
      if (!(error instanceof SharedStateUnavailable)) throw error
      shared = false
    }
    publishRevocation({ action: 'revoke', id, kind: 'token', until: untilMs, by: peer(req), shared })
    if (!shared) return json(res, 503, { error: 'temporarily_unavailable', error_description: 'Revoked on this replica only; post again' }, { 'retry-after': '5' })
    res.writeHead(200, { 'cache-control': 'no-store', 'content-length': 0 })
    res.end()
  }

  function list(res: ServerResponse): void {
    const revoked = revocations.set.entries().map(({ member, until: end }) => ({ id: member, kind: revocationKind(member), until: Math.ceil(end / 1000) }))
    json(res, 200, { revocations: revoked })
  }

  async function lift(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    let removed: boolean
    try {
      removed = await revocations.set.remove(id)
    } catch (error) {
      if (!(error instanceof SharedStateUnavailable)) throw error
      return json(res, 503, { error: 'unavailable', error_description: 'The shared store is unavailable; try again' }, { 'retry-after': '5' })
    }
    if (!removed) return json(res, 404, { error: 'not_found' })
    publishRevocation({ action: 'lift', id, kind: revocationKind(id), by: peer(req), shared: true })
    res.writeHead(204, { 'cache-control': 'no-store' })
    res.end()
  }

  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0] as string
    const collection = path === '/admin/revocations'
    const item = path.startsWith('/admin/revocations/') ? decodeId(path.slice('/admin/revocations/'.length)) : undefined
    if (!collection && item === undefined && path !== '/admin/revoke') return false
    if (!authorized(req)) {
      json(res, 401, { error: 'invalid_token', error_description: 'The admin token is missing or wrong' }, { 'www-authenticate': 'Bearer realm="admin"' })
      return true
    }
    const fail = (error: unknown) => {
      if (error instanceof BodyTooLarge) return json(res, 413, { error: 'invalid_request', error_description: 'Body too large' })
      json(res, 500, { error: 'internal' })
    }
    const allow = (methods: string) => json(res, 405, { error: 'method_not_allowed' }, { allow: methods })
    if (path === '/admin/revoke') {
      if (req.method !== 'POST') allow('POST')
      else revokeForm(req, res).catch(fail)
    } else if (collection) {
      if (req.method === 'POST') post(req, res).catch(fail)
      else if (req.method === 'GET') list(res)
      else allow('GET, POST')
    } else if (req.method === 'DELETE') lift(req, res, item as string).catch(fail)
    else allow('DELETE')
    return true
  }
}

class BodyTooLarge extends Error {}

/** An id as sent in the path; a malformed escape is an id that matches nothing. */
function decodeId(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY) throw new BodyTooLarge()
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

function peer(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown'
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text), ...headers })
  res.end(text)
}

/** A token lifetime no issuer bounds (`maxTokenLifetime` unset) is held for this long by default. */
const UNBOUNDED_LIFETIME_MS = 24 * 3_600_000

/** The route options a configuration implies; `undefined` without an admin token. */
export function revocationRouteOptions(
  config: {
    admin: { token: Secret | undefined }
    authorizationServers: readonly { issuer: string; acceptedIssuers: readonly string[]; maxTokenLifetime?: number | undefined; clockSkew: number }[]
  },
  revocations: Revocations,
): RevocationRoutesOptions | undefined {
  if (config.admin.token === undefined) return undefined
  const issuers = new Map<string, string>()
  for (const as of config.authorizationServers) {
    issuers.set(as.issuer, as.issuer)
    for (const iss of as.acceptedIssuers) issuers.set(iss, as.issuer)
  }
  const lifetimes = config.authorizationServers.map((as) => as.maxTokenLifetime ?? UNBOUNDED_LIFETIME_MS)
  return {
    revocations,
    adminToken: config.admin.token,
    issuers,
    defaultTtlMs: Math.max(...lifetimes) + Math.max(0, ...config.authorizationServers.map((as) => as.clockSkew)),
    clockSkewMs: Math.max(0, ...config.authorizationServers.map((as) => as.clockSkew)),
  }
}
