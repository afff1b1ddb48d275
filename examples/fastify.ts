/**
 * An MCP server on Fastify 5, protected by the library.
 *
 *   OAUTH_ISSUER_URL=https://auth.example.com OAUTH_AUDIENCE=http://127.0.0.1:3000/mcp \
 *     PORT=3000 node --import tsx examples/fastify.ts
 */
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import Fastify from 'fastify'
import { createResourceServer, filterListResponses } from 'mcp-resource-gateway'
import { mcpAuth } from 'mcp-resource-gateway/fastify'
import { createMcpServer, scopes } from './tools.js'

const rs = await createResourceServer.fromEnv(process.env, { scopes })

const app = Fastify()
await app.register(mcpAuth(rs))
app.post('/mcp', async (request, reply) => {
  // Stateless: one server and transport per request. The transport writes the raw response.
  const server = createMcpServer()
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined })
  reply.raw.on('close', () => void server.close())
  await server.connect(transport)
  filterListResponses(transport, rs)
  reply.hijack()
  await transport.handleRequest(request.raw, reply.raw, request.body)
})

const address = await app.listen({ port: Number(process.env.PORT ?? 3000), host: '127.0.0.1' })
console.log(`listening on ${address}`)
process.once('SIGTERM', () => void app.close().then(() => rs.close()))
