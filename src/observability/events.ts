import { channel } from 'node:diagnostics_channel'

/**
 * Every diagnostics channel the core publishes on. The core never imports a logger or a metrics
 * library; `log.ts`, `metrics.ts` and the audit trail subscribe here. No payload ever holds a
 * token, an Authorization value or a secret.
 */
export const events = {
  /** One per finished request: the decision record (see `DecisionEvent`). */
  decision: channel('mcp-gateway:decision'),
  /** A JWKS document was fetched (startup, unknown `kid`, or cache expiry). */
  jwksFetch: channel('mcp-gateway:jwks:fetch'),
  /** An introspection call went to the authorization server. */
  introspection: channel('mcp-gateway:introspection'),
  /** A response stream (SSE) opened or closed. */
  stream: channel('mcp-gateway:stream'),
  /** Something the operator should see that is not tied to a request. */
  notice: channel('mcp-gateway:notice'),
}

export interface DecisionEvent {
  requestId: string
  time: number
  httpMethod: string
  path: string
  status: number
  durationMs: number
  upstreamMs: number | undefined
  /** `allow`, or the failure reason. */
  decision: 'allow' | 'deny' | 'error'
  reason: string | undefined
  mcpMethod: string | undefined
  /** Tool, prompt or resource named by the call. */
  target: string | undefined
  protocolVersion: string | undefined
  subject: string | undefined
  clientId: string | undefined
  issuer: string | undefined
}

export interface JwksFetchEvent {
  issuer: string
  url: string
  ok: boolean
}

export interface NoticeEvent {
  level: 'info' | 'warn' | 'error'
  message: string
}
