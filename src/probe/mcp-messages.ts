/**
 * The MCP requests the probe sends, per protocol revision. 2025-11-25 opens with `initialize`
 * (basic/lifecycle); 2026-07-28 has no handshake: every request carries its version and client
 * capabilities in `params._meta`, mirrored by `MCP-Protocol-Version` and `Mcp-Method` headers
 * (SEP-2243, SEP-2575).
 */

export type ProbeProtocol = '2025-11-25' | '2026-07-28'

export const PROBE_PROTOCOLS: readonly ProbeProtocol[] = ['2025-11-25', '2026-07-28']

const CLIENT_INFO = { name: 'mcp-resource-gateway-probe', version: '1' }

export interface McpMessage {
  /** JSON-RPC method, also the `Mcp-Method` header under 2026-07-28. */
  readonly method: string
  readonly body: string
  readonly headers: Record<string, string>
}

export interface MessageContext {
  readonly protocol: ProbeProtocol
  readonly token?: string | undefined
  readonly sessionId?: string | undefined
  /** The version negotiated by `initialize`, sent on later 2025-11-25 requests. */
  readonly negotiatedVersion?: string | undefined
}

function headersFor(method: string, ctx: MessageContext, first: boolean): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
  }
  if (ctx.protocol === '2026-07-28') {
    headers['mcp-protocol-version'] = ctx.protocol
    headers['mcp-method'] = method
  } else if (!first) {
    // basic/transports §Protocol Version Header: on every request after initialize.
    headers['mcp-protocol-version'] = ctx.negotiatedVersion ?? ctx.protocol
  }
  if (ctx.sessionId !== undefined) headers['mcp-session-id'] = ctx.sessionId
  if (ctx.token !== undefined) headers.authorization = `Bearer ${ctx.token}`
  return headers
}

function modernMeta(): Record<string, unknown> {
  return {
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientCapabilities': {},
    'io.modelcontextprotocol/clientInfo': CLIENT_INFO,
  }
}

/** The first request of a session: `initialize`, or `server/discover` under 2026-07-28. */
export function openingRequest(ctx: MessageContext, id: number): McpMessage {
  if (ctx.protocol === '2026-07-28') {
    const method = 'server/discover'
    return { method, headers: headersFor(method, ctx, true), body: JSON.stringify({ jsonrpc: '2.0', id, method, params: { _meta: modernMeta() } }) }
  }
  const method = 'initialize'
  const params = { protocolVersion: ctx.protocol, capabilities: {}, clientInfo: CLIENT_INFO }
  return { method, headers: headersFor(method, ctx, true), body: JSON.stringify({ jsonrpc: '2.0', id, method, params }) }
}

/** `notifications/initialized`, sent after a 2025-11-25 `initialize` succeeds. */
export function initializedNotification(ctx: MessageContext): McpMessage {
  const method = 'notifications/initialized'
  return { method, headers: headersFor(method, ctx, false), body: JSON.stringify({ jsonrpc: '2.0', method }) }
}

export function toolsListRequest(ctx: MessageContext, id: number): McpMessage {
  const method = 'tools/list'
  const params = ctx.protocol === '2026-07-28' ? { _meta: modernMeta() } : {}
  return { method, headers: headersFor(method, ctx, false), body: JSON.stringify({ jsonrpc: '2.0', id, method, params }) }
}
