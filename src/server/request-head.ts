import type { IncomingMessage } from 'node:http'
import { rawHeaderValues } from '../common/raw-header.js'
import { BadRequest, InvalidRequest, type GatewayError } from '../errors.js'

/**
 * A path that is not in normal form: a dot segment (`/./`, `/../`, or one at the end), an empty
 * segment (`//`), a backslash, or an encoded dot, slash or backslash (`%2E`, `%2F`, `%5C`), before
 * the query. Such paths are refused rather than normalised (RFC 3986 §5.2.4): a backend, or a
 * proxy behind it, that resolves or decodes them its own way would serve a path that routing never
 * saw. One regex test on `req.url`: nothing is allocated for a plain path.
 */
const UNNORMAL_PATH = /^[^?]*?(?:\/\/|\/\.\.?(?:[/?]|$)|\\|%(?:2e|2f|5c))/i

/**
 * The checks on the request head that come before routing, for every route: `undefined` when the
 * request may be routed, else the refusal.
 *
 * - exactly one `Host` field line (RFC 9112 §3.2: more than one is a 400; node keeps the first and
 *   says nothing, so the raw list is counted);
 * - a path in normal form (see `UNNORMAL_PATH`), so routing and the backend see the same path.
 */
export function refuseRequestHead(req: IncomingMessage): GatewayError | undefined {
  if (Array.isArray(rawHeaderValues(req.rawHeaders, 'host'))) return new BadRequest('duplicate_host', 'Send exactly one Host header')
  if (UNNORMAL_PATH.test(req.url ?? '/')) {
    return new InvalidRequest('invalid_path', 'The path must have no dot segments, empty segments, backslashes or encoded dots and slashes')
  }
  return undefined
}
