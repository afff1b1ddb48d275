import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import type { RecordedRequest } from './record-request.js'

/**
 * Calls the backend's `whoami` tool through the gateway with the SDK client and returns what the
 * backend verified about the caller (the claims it read from the identity the gateway sent).
 */
export async function whoami(url: string, token: string, headers: Record<string, string> = {}): Promise<Record<string, unknown> | null> {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { ...headers, Authorization: `Bearer ${token}` } },
  })
  const client = new Client({ name: 'identity-test', version: '1.0.0' })
  await client.connect(transport)
  try {
    const result = (await client.callTool({ name: 'whoami', arguments: {} })) as CallToolResult
    const first = result.content[0]
    if (first?.type !== 'text') throw new Error('whoami answered no text')
    return JSON.parse(first.text) as Record<string, unknown> | null
  } finally {
    await client.close()
  }
}

/** Fails when any request the backend received carries `secret` anywhere in its head or body. */
export function assertNeverSent(requests: readonly RecordedRequest[], secret: string): void {
  if (requests.length === 0) throw new Error('the backend saw no request')
  for (const request of requests) {
    if (request.rawHeaders.some((value) => value.includes(secret)) || (request.body ?? '').includes(secret)) {
      throw new Error(`the backend received the client's token (${request.method} ${request.url})`)
    }
  }
}
