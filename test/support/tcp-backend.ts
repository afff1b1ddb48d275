import { createServer, type AddressInfo, type Socket } from 'node:net'

/**
 * A backend that answers with bytes a test writes itself, for what node:http would never send:
 * bad framing, a connection closed mid-body or while idle, chunks written one at a time. Requests
 * are read with Content-Length framing only (what the gateway sends).
 */
export interface TcpBackend {
  readonly origin: string
  readonly port: number
  /** Every request head received (request line and fields, as text), in arrival order. */
  readonly requests: { head: string; body: string; connection: number }[]
  /** Connections accepted so far. */
  connections(): number
  /** Connections currently open. */
  open(): Socket[]
  close(): Promise<void>
}

/** `answer` is called once per request with its connection's socket and the request's number (0-based). */
export async function startTcpBackend(answer: (socket: Socket, request: { head: string; body: string; index: number }) => void): Promise<TcpBackend> {
  const requests: { head: string; body: string; connection: number }[] = []
  const sockets = new Set<Socket>()
  let accepted = 0
  const server = createServer((socket) => {
    const connection = accepted++
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    let buffered = Buffer.alloc(0)
    socket.on('data', (data: Buffer) => {
      buffered = Buffer.concat([buffered, data])
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n')
        if (end === -1) return
        const head = buffered.toString('latin1', 0, end)
        const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0)
        if (buffered.length < end + 4 + length) return
        const body = buffered.toString('latin1', end + 4, end + 4 + length)
        buffered = buffered.subarray(end + 4 + length)
        const index = requests.length
        requests.push({ head, body, connection })
        answer(socket, { head, body, index })
      }
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    requests,
    connections: () => accepted,
    open: () => [...sockets],
    async close() {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}
