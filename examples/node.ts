/**
 * An MCP server on plain node:http, protected by the library.
 *
 *   OAUTH_ISSUER_URL=https://auth.example.com OAUTH_AUDIENCE=http://127.0.0.1:3000/mcp \
 *     PORT=3000 node --import tsx examples/node.ts
 */
import { createServer } from 'node:http'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { createResourceServer, filterListResponses } from 'mcp-resource-gateway'
import { withMcpAuth } from 'mcp-resource-gateway/node'
import { createMcpServer, scopes } from './tools.js'

const rs = await createResourceServer.fromEnv(process.env, { scopes })

const listener = createServer(
  withMcpAuth(rs, async (req, res, body) => {
    if (req.url !== '/mcp' || req.method !== 'POST') {
      res.writeHead(req.url === '/mcp' ? 405 : 404).end()
      return
    }
    // Stateless: one server and transport per request.
    const server = createMcpServer()
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined })
    res.on('close', () => void server.close())
    await server.connect(transport)
    filterListResponses(transport, rs)
    await transport.handleRequest(req, res, body)
  }),
)
listener.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`listening on ${JSON.stringify(listener.address())}`)
})
process.once('SIGTERM', () => listener.close(() => void rs.close()))
