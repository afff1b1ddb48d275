/**
 * Every value of one request header, from node's raw list (`req.rawHeaders`): node keeps only the
 * first of some repeated headers (`Authorization`) and joins others, while a credential sent twice
 * must be seen as sent twice (RFC 6750 §2, RFC 9449 §4.3). `name` is lower case.
 */
export function rawHeaderValues(raw: readonly string[], name: string): string | string[] | undefined {
  let found: string | string[] | undefined
  for (let i = 0; i < raw.length; i += 2) {
    const field = raw[i] as string
    if (field.length !== name.length || field.toLowerCase() !== name) continue
    const value = raw[i + 1] as string
    found = found === undefined ? value : [...(Array.isArray(found) ? found : [found]), value]
  }
  return found
}
