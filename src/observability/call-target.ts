/** What a call's `target` names, by the MCP method that carries it. */
export type TargetKind = 'tool' | 'prompt' | 'resource'

/**
 * The kind of object an MCP method acts on: `params.name` of `tools/call` is a tool, of
 * `prompts/get` a prompt, and `params.uri` of `resources/read|subscribe|unsubscribe` a resource
 * (MCP 2025-11-25 §Server Features). Logs and the audit trail name the field after it.
 */
export function targetKind(mcpMethod: string | undefined): TargetKind | undefined {
  if (mcpMethod === 'tools/call') return 'tool'
  if (mcpMethod === 'prompts/get') return 'prompt'
  if (mcpMethod !== undefined && mcpMethod.startsWith('resources/')) return 'resource'
  return undefined
}

/** `{ tool: 'echo' }`, `{ resource: 'file:///x' }`, or `{}`: spread into a log or audit record. */
export function targetFields(
  mcpMethod: string | undefined,
  target: string | undefined,
): Partial<Record<TargetKind, string>> {
  const kind = targetKind(mcpMethod)
  return kind === undefined || target === undefined ? {} : { [kind]: target }
}
