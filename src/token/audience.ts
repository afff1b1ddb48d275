/**
 * Audience binding (RFC 8707 §2, RFC 9068 §4): a token is for this resource when one of its `aud`
 * values equals the canonical URI (or an explicitly configured extra audience).
 *
 * URIs compare after lower-casing scheme and host and dropping a default port (RFC 3986 §6.2.3;
 * MCP authorization §Canonical Server URI says to accept upper-case scheme and host). The path is
 * compared exactly, so `/mcp` and `/mcp/` differ; only an empty path equals `/`. Values that are
 * not http(s) URLs (`api://id`, a bare client id) compare byte for byte.
 */
export function normalizeAudience(value: string): string {
  if (!/^https?:\/\//i.test(value)) return value
  try {
    const url = new URL(value)
    if (url.hash !== '' || value.includes('#')) return value
    return url.href
  } catch {
    return value
  }
}

/** Compiles the accepted audiences once; the returned check runs per token. */
export function createAudienceCheck(accepted: readonly string[]): (aud: unknown) => boolean {
  const set = new Set(accepted.map(normalizeAudience))
  return (aud) => {
    if (typeof aud === 'string') return set.has(normalizeAudience(aud))
    if (Array.isArray(aud)) return aud.some((a) => typeof a === 'string' && set.has(normalizeAudience(a)))
    return false
  }
}
