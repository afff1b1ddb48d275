import { scopesSchema, type ScopesConfigInput } from '../../../src/policy/scopes-schema.js'
import type { McpMessage, McpRequest } from '../../../src/jsonrpc/mcp-request.js'
import type { ProtocolVersion } from '../../../src/jsonrpc/protocol-version.js'
import { compilePolicy, type Policy } from '../../../src/policy/rules.js'
import type { Principal } from '../../../src/token/principal.js'

export function policyOf(input: ScopesConfigInput): Policy {
  return compilePolicy(scopesSchema.parse(input))
}

export function principalOf(scopes: readonly string[], claims: Record<string, unknown> = {}, clientId?: string): Principal {
  return { issuer: 'https://as.example', subject: 'u1', clientId, scopes: new Set(scopes), expiresAt: 2_000_000_000, claims }
}

/** `[method, target?]` per message; a `null` method is a response. Ids count from 1. */
export function requestOf(messages: readonly (readonly [string | null, string?])[], version: ProtocolVersion = '2025-03-26'): McpRequest {
  const parsed: McpMessage[] = messages.map(([method, target], i) =>
    method === null
      ? { kind: 'response', method: undefined, id: i + 1, target: undefined }
      : { kind: 'request', method, id: i + 1, target },
  )
  return { version, batch: messages.length > 1, messages: parsed, body: undefined }
}

/** The example of issue 3, grown a little. */
export const EXAMPLE: ScopesConfigInput = {
  required: ['mcp:connect'],
  methods: {
    'tools/list': ['mcp:tools:read'],
    'tools/call': ['mcp:tools:call'],
    'prompts/list': ['mcp:prompts'],
    'prompts/get': ['mcp:prompts'],
    'resources/list': ['mcp:resources:read'],
    'resources/templates/list': ['mcp:resources:read'],
    'resources/read': ['mcp:resources:read'],
  },
  tools: { delete_repo: ['repo:admin'], read_repo: ['repo:read'], write_both: ['repo:read', 'repo:write'] },
  prompts: { secret: ['prompts:secret'] },
  resources: {
    'file:///etc/passwd': ['root'],
    'file:///secret/*': ['secret:read'],
    'file:///secret/public/*': [],
    'file:///*': ['files:read'],
  },
  implies: { 'repo:admin': ['repo:write'], 'repo:write': ['repo:read'] },
}
