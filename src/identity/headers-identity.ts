import type { HeadersSettings } from './settings.js'
import { claimValue } from './claims.js'
import type { IdentityHeaders, UpstreamIdentity } from './upstream-identity.js'

/** Visible ASCII and space: a value any HTTP stack passes through unchanged (RFC 9110 §5.5). */
const PLAIN_VALUE = /^[\x20-\x7e]*$/

/**
 * Plain identity headers (`x-mcp-subject: <sub>`), for a backend on a trusted network. The
 * client's own headers of those names are always removed, set or not, so a missing claim can
 * never leave a forged value in place. A claim value with other bytes (non-ASCII, control
 * characters) is left out rather than altered; the assertion mode carries any value.
 */
export function createHeadersIdentity(settings: HeadersSettings): UpstreamIdentity {
  const strip: ReadonlySet<string> = new Set(settings.headers.keys())
  const entries = [...settings.headers]
  return {
    mode: 'headers',
    audience: undefined,
    jwks: undefined,
    identify({ principal }): IdentityHeaders {
      const add: Record<string, string> = {}
      for (const [name, claim] of entries) {
        const value = claimValue(principal, claim)
        if (value === undefined) continue
        const text = String(value)
        if (PLAIN_VALUE.test(text)) add[name] = text
      }
      return { strip, add }
    },
  }
}
