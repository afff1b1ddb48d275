import type { AddressInfo, Server } from 'node:net'

export interface BoundAddress {
  /** The bound address as it goes in a URL (IPv6 in brackets). */
  readonly host: string
  readonly port: number
}

/**
 * Starts listening and settles once: resolves with the bound address, or rejects with the listen
 * error (EADDRINUSE, EACCES) that node:net would otherwise emit as an event nobody awaits.
 */
export async function listen(server: Server, port: number, host: string): Promise<BoundAddress> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  return { host: address.family === 'IPv6' ? `[${address.address}]` : address.address, port: address.port }
}
