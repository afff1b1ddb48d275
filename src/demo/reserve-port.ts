import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'

/**
 * Asks the OS for a free port on `host` and releases it at once. The gateway's canonical URI
 * (and so every token's audience) must name its port before the gateway listens, so "port 0"
 * has to be turned into a real number first. Another process could take the port in between;
 * on loopback, for a demo or a test, that window is acceptable.
 */
export function reservePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, host, () => {
      const { port } = server.address() as AddressInfo
      server.close((err) => (err ? reject(err) : resolve(port)))
    })
  })
}
