import { BadRequest } from '../errors.js'
import { unsupportedVersion } from './errors.js'
import { INVALID_HEADER, singleHeader } from './header-value.js'
import { DEFAULT_PROTOCOL_VERSION, PROTOCOL_VERSIONS, featuresOf, isProtocolVersion, type ProtocolVersion } from './protocol-version.js'

/** Which HTTP methods the MCP endpoint accepts for a protocol version (OPTIONS aside: CORS preflight). */
export function allowedHttpMethods(version: ProtocolVersion): readonly string[] {
  const features = featuresOf(version)
  const methods: string[] = []
  if (features.getStream) methods.push('GET')
  methods.push('POST')
  if (features.deleteSession) methods.push('DELETE')
  return methods
}

/** Per version: the methods allowed, and the `Allow` value of its 405 (RFC 9110 §10.2.1), built once. */
const ALLOWED = new Map(
  PROTOCOL_VERSIONS.map((version) => {
    const methods = allowedHttpMethods(version)
    return [version, { methods, allow: [...methods, 'OPTIONS'].join(', ') }] as const
  }),
)

/**
 * Whether this HTTP method may reach the MCP endpoint, judged from `MCP-Protocol-Version` (GET and
 * DELETE carry no body to detect a version from; without the header, the default version). POST is
 * always allowed here: its body decides. 2026-07-28 has no GET stream and no session to DELETE
 * (streamable-http §Backward Compatibility); older versions allow both, authorized by the required
 * scopes only. One rule for every method and version: a method the version does not accept is 405
 * with `Allow` listing the ones it does (RFC 9110 §15.5.6). An unreadable or unknown version is
 * then a 400 (2025-06-18 streamable-http §Protocol Version Header).
 *
 * @throws BadRequest 405 `method_not_allowed` (with `Allow`), or 400 `unsupported_protocol_version`.
 */
export function checkHttpMethod(
  httpMethod: string,
  versionHeader: string | string[] | undefined,
  served: readonly ProtocolVersion[] = PROTOCOL_VERSIONS,
): void {
  if (httpMethod === 'POST') return
  const header = singleHeader({ v: versionHeader }, 'v')
  const version =
    header === undefined
      ? DEFAULT_PROTOCOL_VERSION
      : header !== INVALID_HEADER && isProtocolVersion(header) && served.includes(header)
        ? header
        : undefined
  const allowed = ALLOWED.get(version ?? DEFAULT_PROTOCOL_VERSION) as { methods: readonly string[]; allow: string }
  if (!allowed.methods.includes(httpMethod)) {
    throw new BadRequest('method_not_allowed', 'HTTP method not allowed on the MCP endpoint for this protocol version', 405, {
      headers: { allow: allowed.allow },
    })
  }
  if (version === undefined) throw unsupportedVersion(null, served, header === INVALID_HEADER ? undefined : header)
}
