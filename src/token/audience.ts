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
  // Most tokens carry an accepted audience byte for byte: that needs no URL parsing, which
  // matters on paths that check every request (introspection answers are checked on each hit).
  const exact = new Set(accepted)
  const normalized = new Set(accepted.map(normalizeAudience))
  const one = (a: unknown) => typeof a === 'string' && (exact.has(a) || normalized.has(normalizeAudience(a)))
  return (aud) => (Array.isArray(aud) ? aud.some(one) : one(aud))
}
