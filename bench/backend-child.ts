import { startDemoBackend } from '../src/demo/mcp-backend.js'

/**
 * The direct baseline, in a process of its own so its CPU time is its own: the demo's hand-written
 * MCP backend (serialized results, one JSON.parse per request). Prints `{"url": ...}` when ready.
 */
const backend = await startDemoBackend({ host: '127.0.0.1', port: 0 })
process.stdout.write(`${JSON.stringify({ ready: true, url: backend.url })}\n`)

const stop = () => {
  void backend.close().finally(() => process.exit(0))
}
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
