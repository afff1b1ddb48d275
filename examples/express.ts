/**
 * An MCP server on Express 5, protected by the library.
 *
 *   OAUTH_ISSUER_URL=https://auth.example.com OAUTH_AUDIENCE=http://127.0.0.1:3000/mcp \
 *     PORT=3000 node --import tsx examples/express.ts
 */
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import express from 'express'
import { createResourceServer, filterListResponses } from 'mcp-resource-gateway'
import { mcpAuth } from 'mcp-resource-gateway/express'
import { createMcpServer, scopes } from './tools.js'

const rs = await createResourceServer.fromEnv(process.env, { scopes })

const app = express()
app.use(mcpAuth(rs))
app.post('/mcp', express.json(), async (req, res) => {
  // Stateless: one server and transport per request.
  const server = createMcpServer()
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined })
  res.on('close', () => void server.close())
  await server.connect(transport)
  filterListResponses(transport, rs)
  await transport.handleRequest(req, res, req.body)
})

const listener = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`listening on ${JSON.stringify(listener.address())}`)
})
process.once('SIGTERM', () => listener.close(() => void rs.close()))
