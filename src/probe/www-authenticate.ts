/**
 * Reading `WWW-Authenticate` twice: as RFC 9110 §11.6.1 defines it, and as the MCP TypeScript SDK
 * v1 client does (split on the first space, then a regex for the first `name=` anywhere). When the
 * two readings differ, a real client acts on the second.
 */

export interface Challenge {
  /** The auth-scheme, as sent. */
  readonly scheme: string
  /** auth-params, names lowercased (RFC 9110 §11.2: case-insensitive), values unquoted. */
  readonly params: Readonly<Record<string, string>>
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/

/**
 * Parses one header value into its challenges (several may share one line, comma-separated).
 * A token68 credential form is kept as the param `token68`.
 */
export function parseChallenges(value: string): Challenge[] {
  const challenges: { scheme: string; params: Record<string, string> }[] = []
  let rest = value.trim()
  let current: { scheme: string; params: Record<string, string> } | undefined
  while (rest.length > 0) {
    rest = rest.replace(/^[\s,]+/, '')
    const name = TOKEN.exec(rest)?.[0]
    if (name === undefined) break
    const after = rest.slice(name.length)
    const param = /^\s*=\s*/.exec(after)
    if (param !== null && current !== undefined) {
      let valueText = after.slice(param[0].length)
      let parsed: string
      if (valueText.startsWith('"')) {
        let i = 1
        parsed = ''
        while (i < valueText.length && valueText[i] !== '"') {
          if (valueText[i] === '\\' && i + 1 < valueText.length) i++
          parsed += valueText[i]
          i++
        }
        valueText = valueText.slice(i + 1)
      } else {
        parsed = TOKEN.exec(valueText)?.[0] ?? ''
        valueText = valueText.slice(parsed.length)
      }
      const key = name.toLowerCase()
      if (!(key in current.params)) current.params[key] = parsed
      rest = valueText
      continue
    }
    // A new challenge: `scheme` optionally followed by a token68 or by params.
    current = { scheme: name, params: {} }
    challenges.push(current)
    rest = after.replace(/^\s+/, '')
    const token68 = /^[A-Za-z0-9\-._~+/]+=*(?=\s*(,|$))/.exec(rest)
    if (token68 !== null && !/^[^=\s,]+\s*=\s*[^=,\s]/.test(rest)) {
      current.params.token68 = token68[0]
      rest = rest.slice(token68[0].length)
    }
  }
  return challenges
}

export interface SdkChallengeView {
  /** Whether the SDK sees a Bearer challenge at all (first word `Bearer`, something after it). */
  readonly bearer: boolean
  readonly resourceMetadata: string | undefined
  readonly scope: string | undefined
  readonly error: string | undefined
}

/**
 * What `extractWWWAuthenticateParams` (SDK v1 `client/auth.js`) reads from the header, given the
 * header values joined the way `Headers.get` joins them.
 */
export function sdkChallengeView(joined: string): SdkChallengeView {
  const [type, second] = joined.split(' ')
  if (type === undefined || type.toLowerCase() !== 'bearer' || second === undefined || second === '') {
    return { bearer: false, resourceMetadata: undefined, scope: undefined, error: undefined }
  }
  const field = (name: string): string | undefined => {
    const match = new RegExp(`${name}=(?:"([^"]+)"|([^\\s,]+))`).exec(joined)
    return match === null ? undefined : (match[1] ?? match[2])
  }
  return { bearer: true, resourceMetadata: field('resource_metadata'), scope: field('scope'), error: field('error') }
}
