/**
 * An MCP server on Hono 4 (served by @hono/node-server), protected by the library.
 *
 *   OAUTH_ISSUER_URL=https://auth.example.com OAUTH_AUDIENCE=http://127.0.0.1:3000/mcp \
 *     PORT=3000 node --import tsx examples/hono.ts
 */
import { serve } from '@hono/node-server'
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js'
import { Hono } from 'hono'
import { createResourceServer, filterListResponses } from 'mcp-resource-gateway'
import { mcpAuth, type McpAuthEnv } from 'mcp-resource-gateway/hono'
import { createMcpServer, scopes } from './tools.js'

const rs = await createResourceServer.fromEnv(process.env, { scopes })

const app = new Hono<McpAuthEnv>()
app.use(mcpAuth(rs))
app.post('/mcp', async (c) => {
  // Stateless: one server and transport per request.
  const server = createMcpServer()
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined })
  await server.connect(transport)
  filterListResponses(transport, rs)
  return transport.handleRequest(c.req.raw, { authInfo: c.get('auth'), parsedBody: await c.req.json() })
})

const listener = serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000), hostname: '127.0.0.1' }, (info) => {
  console.log(`listening on ${JSON.stringify(info)}`)
})
process.once('SIGTERM', () => listener.close(() => void rs.close()))
