import type { LoadRequest } from './load/load-spec.js'

/**
 * The request mix every target gets: per token, one `tools/call` (echo) and one `tools/list`, as
 * a 2025-11-25 client sends them over Streamable HTTP. The same bytes go to the direct backend and
 * to nginx (which ignore or strip the token), so the targets differ only in what sits in between.
 * `tools/list` is in the mix so that list filtering, when configured, is on the measured path.
 */
export const PROTOCOL_VERSION = '2025-11-25'

const CALL_BODY = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name: 'echo', arguments: { text: 'hello from the benchmark' } },
})
const LIST_BODY = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} })

export function mcpRequests(tokens: readonly string[], path = '/mcp'): LoadRequest[] {
  const out: LoadRequest[] = []
  for (const token of tokens) {
    for (const body of [CALL_BODY, LIST_BODY]) {
      out.push({ method: 'POST', path, headers: headersFor(token), body })
    }
  }
  return out
}

export function headersFor(token: string): Record<string, string> {
  return {
    authorization: `Bearer ${token}`,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': PROTOCOL_VERSION,
  }
}

/** One JSON-RPC call, for probes: the status and the parsed body (or the raw text). */
export async function callOnce(
  origin: string,
  token: string,
  method: string,
  params: Record<string, unknown> = {},
): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${origin}/mcp`, {
    method: 'POST',
    headers: headersFor(token),
    body: JSON.stringify({ jsonrpc: '2.0', id: 7, method, params }),
  })
  const text = await response.text()
  try {
    return { status: response.status, body: JSON.parse(text) as unknown }
  } catch {
    return { status: response.status, body: text }
  }
}
