/**
 * Reading the MCP request-metadata headers (2026-07-28 streamable-http §Request Metadata).
 */

/** A header that was sent more than once, or whose value cannot be valid: never equal to a body value. */
export const INVALID_HEADER = Symbol('invalid header')

export type HeaderMap = Readonly<Record<string, string | string[] | undefined>>

/**
 * The one value of a header, `undefined` when absent, `INVALID_HEADER` when repeated. Node joins most
 * repeated headers with `, ` itself, which then fails the comparison with the body as it should.
 * Keys are lower case, as node:http delivers them.
 */
export function singleHeader(headers: HeaderMap, name: string): string | undefined | typeof INVALID_HEADER {
  const value = headers[name]
  if (value === undefined || typeof value === 'string') return value
  if (value.length === 1) return value[0]
  return value.length === 0 ? undefined : INVALID_HEADER
}

const PREFIX = '=?base64?'
const SUFFIX = '?='
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const SAFE_PLAIN = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * Decodes an `Mcp-Name` (or `Mcp-Param-*`) value: `=?base64?<base64 of UTF-8>?=` is decoded, any
 * other value must be safe ASCII as sent. Returns `INVALID_HEADER` for a value with invalid
 * characters or a broken encoding (§Server Validation: "invalid characters" is a mismatch).
 *
 * Markers are lower case and case sensitive (§Value Encoding), so `=?BASE64?...?=` is a plain value,
 * and a plain value holding `=` and `?` is still a valid plain value: it simply will not equal a body
 * value that needed encoding.
 */
export function decodeHeaderValue(value: string): string | typeof INVALID_HEADER {
  if (value.startsWith(PREFIX) && value.endsWith(SUFFIX) && value.length >= PREFIX.length + SUFFIX.length) {
    const encoded = value.slice(PREFIX.length, value.length - SUFFIX.length)
    if (!BASE64.test(encoded)) return INVALID_HEADER
    try {
      return utf8.decode(Buffer.from(encoded, 'base64'))
    } catch {
      return INVALID_HEADER
    }
  }
  // Non-ASCII, control characters and leading or trailing whitespace must have been encoded.
  return SAFE_PLAIN.test(value) ? value : INVALID_HEADER
}
