import type { Config } from '../config/normalize.js'
import { createAssertionIdentity } from '../identity/assertion-identity.js'
import { createExchangeIdentity } from '../identity/exchange-identity.js'
import { createHeadersIdentity } from '../identity/headers-identity.js'
import type { UpstreamIdentity } from '../identity/upstream-identity.js'

/** The configured identity mode, or `undefined` for `none` (the request path then has no identity step). */
export function createUpstreamIdentity(config: Config): UpstreamIdentity | undefined {
  const settings = config.upstreamIdentity
  switch (settings.mode) {
    case 'none':
      return undefined
    case 'headers':
      return createHeadersIdentity(settings)
    case 'assertion':
      return createAssertionIdentity(settings, config.resource.canonicalUri)
    case 'exchange':
      return createExchangeIdentity(settings)
  }
}
