import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { test } from 'node:test'
import { loadConfig } from '../../src/config/load.js'
import { startGateway } from '../../src/server/http.js'
import { closeServer, listenOnLoopback } from '../support/listen.js'

/**
 * A port already in use fails `startGateway` with EADDRINUSE, and nothing built before listening
 * (the backend pool, the Redis client of the rate limiter) is left open behind it.
 */
test('a failed listen closes every part it built', async () => {
  const squatter = createServer()
  const port = await listenOnLoopback(squatter)
  try {
    const config = await loadConfig({
      env: {
        MCP_CANONICAL_URI: `http://127.0.0.1:${port}/mcp`,
        MCP_AUTHORIZATION_SERVER: 'https://as.example.test',
        MCP_JWKS_URI: 'https://as.example.test/jwks',
        MCP_BACKEND: '127.0.0.1:9',
        MCP_LISTEN_HOST: '127.0.0.1',
        MCP_LISTEN_PORT: String(port),
        MCP_RATELIMIT_ENABLED: 'on',
        MCP_RATELIMIT_RATE: '10r/s',
        MCP_RATELIMIT_REDIS: '127.0.0.1:6379',
      },
    })
    const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TCPWRAP').length
    const before = sockets()
    await assert.rejects(startGateway(config), { code: 'EADDRINUSE' })
    await new Promise((resolve) => setTimeout(resolve, 300))
    assert.equal(sockets(), before, 'no socket (Redis, backend) outlives the failed start')
  } finally {
    await closeServer(squatter)
  }
})
