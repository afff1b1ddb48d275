import type { McpRequest } from './mcp-request.js'
import type { ProtocolVersion } from './protocol-version.js'

/** The MCP call a POST carries, summarized for the decision event. */
export interface McpCall {
  readonly request: McpRequest
  /** The method of the first message (a batch lists them all in `request.messages`). */
  readonly method: string | undefined
  readonly target: string | undefined
  readonly protocolVersion: ProtocolVersion
}
