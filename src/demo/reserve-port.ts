import { createServer } from 'node:net'
import { listen } from '../server/listen.js'

/**
 * Asks the OS for a free port on `host` and releases it at once. The gateway's canonical URI
 * (and so every token's audience) must name its port before the gateway listens, so "port 0"
 * has to be turned into a real number first. Another process could take the port in between;
 * on loopback, for a demo or a test, that window is acceptable.
 */
export async function reservePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer()
  server.unref()
  const { port } = await listen(server, 0, host)
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())))
  return port
}
