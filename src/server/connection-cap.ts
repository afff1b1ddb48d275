import type { Socket } from 'node:net'

/**
 * Bounds the client connections one process holds open, so hostile clients cannot use up its file
 * descriptors (docs/deployment.md, "File descriptors"). At the cap, a new connection first pushes
 * out the oldest one that has not yet shown a valid token; only when every open connection has,
 * is the new one refused. A client without a token can therefore never starve authenticated ones.
 */
export interface ConnectionCap {
  /** The server's `'connection'` listener. */
  accept(socket: Socket): void
  /** A token verified on this connection (`req.socket`): it is shed last. */
  authenticated(socket: Socket): void
  /** Connections open now. */
  readonly open: number
}

export function createConnectionCap(max: number): ConnectionCap {
  // Insertion order is age; the value says whether the connection has shown a valid token.
  const connections = new Map<Socket, boolean>()
  const forget = (socket: Socket) => connections.delete(socket)
  return {
    accept(socket) {
      if (connections.size >= max && !shedAnonymous(connections)) {
        socket.destroy()
        return
      }
      connections.set(socket, false)
      socket.once('close', () => forget(socket))
    },
    authenticated(socket) {
      // Over TLS the request's socket wraps the accepted one (node keeps it as `_parent`).
      const accepted = connections.has(socket) ? socket : (socket as Socket & { _parent?: Socket })._parent
      if (accepted !== undefined && connections.get(accepted) === false) connections.set(accepted, true)
    },
    get open() {
      return connections.size
    },
  }
}

/** Closes the oldest connection that has not shown a valid token; false when there is none. */
function shedAnonymous(connections: Map<Socket, boolean>): boolean {
  for (const [socket, authenticated] of connections) {
    if (authenticated) continue
    connections.delete(socket)
    socket.destroy()
    return true
  }
  return false
}
