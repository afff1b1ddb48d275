import type { Server } from 'node:http'
import { listen } from '../../src/server/listen.js'

/** Binds loopback on a random port: tests never touch other interfaces or fixed ports. */
export async function listenOnLoopback(server: Server): Promise<number> {
  return (await listen(server, 0, '127.0.0.1')).port
}

/**
 * Closes a server without waiting for clients: open SSE streams and keep-alive sockets would
 * otherwise hold `close()` until the test runner's timeout.
 */
export async function closeServer(server: Server): Promise<void> {
  if (!server.listening) return
  const closed = new Promise<void>((resolve) => server.close(() => resolve()))
  server.closeAllConnections()
  await closed
}
