interface StoredCookie {
  name: string
  value: string
  origin: string
  path: string
  expiresAt: number
}

/**
 * Just enough of a browser cookie store to walk oidc-provider's login and consent redirects:
 * it scopes by origin and path and honours deletion, ignoring Domain, Secure and SameSite
 * because every peer lives on plain-http 127.0.0.1.
 */
export class CookieJar {
  readonly #cookies = new Map<string, StoredCookie>()

  store(url: URL, setCookieHeaders: readonly string[]): void {
    for (const header of setCookieHeaders) {
      const [pair = '', ...attributes] = header.split(';')
      const eq = pair.indexOf('=')
      if (eq <= 0) continue
      const name = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      let path = '/'
      let expiresAt = Number.POSITIVE_INFINITY
      for (const attribute of attributes) {
        const [rawKey = '', ...rest] = attribute.split('=')
        const key = rawKey.trim().toLowerCase()
        const attributeValue = rest.join('=').trim()
        if (key === 'path' && attributeValue.startsWith('/')) path = attributeValue
        else if (key === 'max-age') expiresAt = Date.now() + Number(attributeValue) * 1000
        else if (key === 'expires' && expiresAt === Number.POSITIVE_INFINITY) expiresAt = Date.parse(attributeValue)
      }
      const key = `${url.origin} ${path} ${name}`
      if (value === '' || !(expiresAt > Date.now())) this.#cookies.delete(key)
      else this.#cookies.set(key, { name, value, origin: url.origin, path, expiresAt })
    }
  }

  header(url: URL): string | undefined {
    const now = Date.now()
    const pairs: string[] = []
    for (const [key, cookie] of this.#cookies) {
      if (cookie.expiresAt <= now) {
        this.#cookies.delete(key)
        continue
      }
      if (cookie.origin !== url.origin) continue
      const inPath =
        url.pathname === cookie.path ||
        (url.pathname.startsWith(cookie.path) && (cookie.path.endsWith('/') || url.pathname[cookie.path.length] === '/'))
      if (inPath) pairs.push(`${cookie.name}=${cookie.value}`)
    }
    return pairs.length === 0 ? undefined : pairs.join('; ')
  }

  clear(): void {
    this.#cookies.clear()
  }
}
