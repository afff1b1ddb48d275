import type { Config } from '../config/normalize.js'
import type { Forwarding } from '../proxy/forward.js'
import type { Revocations } from '../revocation/revocations.js'
import type { Principal } from '../token/principal.js'

/** setTimeout's largest delay (about 24.8 days); a later end is waited for in steps. */
const MAX_DELAY_MS = 2 ** 31 - 1

interface StreamingExchange {
  readonly principal: Principal | undefined
  readonly token: string | undefined
  readonly forwarding: Forwarding | undefined
  unwatch: (() => void) | undefined
}

/**
 * An event stream ends with the token that opened it (docs/security.md "Streams end with their
 * token"): at the token's `exp` minus its issuer's clock skew, at `limits.maxStreamLifetime` if
 * that comes first, or as soon as a revocation naming it arrives. Armed only once a response turns
 * out to be an event stream, so no other response carries a timer.
 */
export function watchStream(config: Config, revocations: Revocations | undefined): (exchange: StreamingExchange) => void {
  const skew = new Map(config.authorizationServers.map((as) => [as.issuer, as.clockSkew]))
  const maxLifetime = config.limits.maxStreamLifetime
  return (exchange) => {
    const { principal, token } = exchange
    if (principal === undefined || token === undefined) return
    const opened = Date.now()
    let end = principal.expiresAt * 1000 - (skew.get(principal.issuer) ?? 0)
    if (maxLifetime > 0) end = Math.min(end, opened + maxLifetime)
    const stop = () => exchange.forwarding?.endStream()
    let timer: NodeJS.Timeout
    const arm = () => {
      const wait = end - Date.now()
      timer = setTimeout(wait > MAX_DELAY_MS ? arm : stop, Math.min(Math.max(0, wait), MAX_DELAY_MS))
    }
    arm()
    const unwatch = revocations?.watch(principal, token, stop)
    exchange.unwatch = () => {
      clearTimeout(timer)
      unwatch?.()
    }
  }
}
