/**
 * The MCP server the four examples share: three tools, and the scopes each needs. `whoami`
 * shows what reaches a tool handler (`extra.authInfo`, set by the adapter as `req.auth`).
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { z } from 'zod'
import type { ResourceServerOptions } from 'mcp-resource-gateway'

/** Every call needs `mcp:tools`; `delete_repo` needs `repo:admin` too (a 403 step-up otherwise). */
export const scopes: ResourceServerOptions['scopes'] = {
  required: ['mcp:tools'],
  tools: { delete_repo: ['repo:admin'] },
  // tools/list shows each caller only the tools its scopes allow.
  filterLists: true,
}

export function createMcpServer(): McpServer {
  const server = new McpServer({ name: 'example', version: '1.0.0' })
  server.registerTool('echo', { description: 'Returns its text', inputSchema: { text: z.string() } }, async ({ text }) => ({
    content: [{ type: 'text', text }],
  }))
  server.registerTool('whoami', { description: 'Who the token speaks for' }, async (extra) => {
    // Never echo extra.authInfo.token: it is the caller's credential.
    const auth = extra.authInfo
    const who = { sub: auth?.extra?.sub, clientId: auth?.clientId, scopes: auth?.scopes }
    return { content: [{ type: 'text', text: JSON.stringify(who) }] }
  })
  server.registerTool('delete_repo', { description: 'Pretends to delete a repository', inputSchema: { name: z.string() } }, async ({ name }) => ({
    content: [{ type: 'text', text: `deleted ${name}` }],
  }))
  return server
}
