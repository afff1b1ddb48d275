/**
 * `WWW-Authenticate` as RFC 9110 §11.6.1 defines it: challenges, each a scheme with auth-params or a
 * token68. Read by the probe (what a deployed endpoint answers) and by the proxy (a backend's own
 * step-up challenge, relayed by `relayScopeChallenge`).
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
