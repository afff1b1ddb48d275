import type { ProtocolVersion } from './protocol-version.js'

/** What one JSON-RPC message is (JSON-RPC 2.0 §4, §4.1, §5). */
export type McpMessageKind = 'request' | 'notification' | 'response'

/** One JSON-RPC message of a POST body, reduced to what authorization needs. */
export interface McpMessage {
  readonly kind: McpMessageKind
  /** The JSON-RPC method; `undefined` for a response. */
  readonly method: string | undefined
  /** The JSON-RPC id; `undefined` for a notification (and for an error response with a `null` id). */
  readonly id: string | number | undefined
  /**
   * The object the call acts on: the tool name (`tools/call`), the prompt name (`prompts/get`) or
   * the resource URI (`resources/read`, `resources/subscribe`, `resources/unsubscribe`).
   */
  readonly target: string | undefined
}

/** A parsed, shape-checked MCP POST body, with the protocol version it speaks. */
export interface McpRequest {
  readonly version: ProtocolVersion
  /** The body was a JSON-RPC batch array (2025-03-26 only). */
  readonly batch: boolean
  /** One entry per JSON-RPC message, in body order (one for a non-batch body). */
  readonly messages: readonly McpMessage[]
  /** The parsed body, for reuse; never re-parse the bytes. */
  readonly body: unknown
}
