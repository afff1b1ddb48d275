import { BadRequest } from '../errors.js'
import { unsupportedVersion } from './errors.js'
import { INVALID_HEADER, singleHeader } from './header-value.js'
import { DEFAULT_PROTOCOL_VERSION, featuresOf, isProtocolVersion, type ProtocolVersion } from './protocol-version.js'

/**
 * Which HTTP methods the MCP endpoint accepts for a protocol version, for the `Allow` header of a
 * 405 (RFC 9110 §15.5.6).
 */
export function allowedHttpMethods(version: ProtocolVersion): readonly string[] {
  const features = featuresOf(version)
  const methods: string[] = []
  if (features.getStream) methods.push('GET')
  methods.push('POST')
  if (features.deleteSession) methods.push('DELETE')
  return methods
}

/**
 * Whether this HTTP method may reach the MCP endpoint, judged from `MCP-Protocol-Version` (GET and
 * DELETE carry no body to detect a version from). POST is always allowed here: its body decides.
 * 2026-07-28 has no GET stream and no session to DELETE, so both are 405 (streamable-http §Backward
 * Compatibility); older versions allow them, authorized by the required scopes only. Any other
 * method is 405. An unknown version is a 400 (2025-06-18 streamable-http §Protocol Version Header).
 *
 * @throws BadRequest 405 `method_not_allowed`, or 400 `unsupported_protocol_version`.
 */
export function checkHttpMethod(httpMethod: string, versionHeader: string | string[] | undefined): void {
  if (httpMethod === 'POST') return
  if (httpMethod !== 'GET' && httpMethod !== 'DELETE') {
    throw new BadRequest('method_not_allowed', 'HTTP method not allowed on the MCP endpoint', 405)
  }
  const header = singleHeader({ v: versionHeader }, 'v')
  let version: ProtocolVersion = DEFAULT_PROTOCOL_VERSION
  if (header !== undefined) {
    if (header === INVALID_HEADER || !isProtocolVersion(header)) throw unsupportedVersion(null)
    version = header
  }
  const features = featuresOf(version)
  if (httpMethod === 'GET' ? !features.getStream : !features.deleteSession) {
    throw new BadRequest('method_not_allowed', 'This MCP protocol version accepts POST only', 405)
  }
}
