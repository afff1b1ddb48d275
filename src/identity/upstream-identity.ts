import type { Principal } from '../token/principal.js'
import type { IdentityHeaders } from '../proxy/headers.js'

/** What one forwarded request carries about its caller, beside (never instead of) the client's headers. */
export type { IdentityHeaders }

/** The caller as the identity step sees it, after authorization. */
export interface IdentityRequest {
  /** The client's own access token: an exchange sends it to the authorization server, nowhere else. */
  readonly token: string
  readonly principal: Principal
  /** The tool named by a `tools/call` (per-tool exchange scopes); `undefined` for any other call. */
  readonly tool: string | undefined
  /** The JSON-RPC id of a `tools/call`, so a refusal can answer it as a JSON-RPC error. */
  readonly jsonRpcId: string | number | undefined
}

/**
 * One upstream identity mode (docs/upstream-identity.md): `identify` yields the headers for the
 * backend, or throws a `GatewayError` (403 refused, 503 the authorization server cannot be asked).
 */
export interface UpstreamIdentity {
  readonly mode: 'exchange' | 'assertion' | 'headers'
  /** The downstream audience named in audit records; `undefined` for plain headers. */
  readonly audience: string | undefined
  identify(request: IdentityRequest): IdentityHeaders | Promise<IdentityHeaders>
  /** The public keys the backend verifies with (JWKS JSON), for `mode: assertion`. */
  readonly jwks: string | undefined
  /** Releases connections (the shared exchange cache's Redis client). */
  close?(): Promise<void>
}

/** Where the assertion's public keys are served, on the main port and on the admin listener. */
export const JWKS_PATH = '/.well-known/jwks.json'
