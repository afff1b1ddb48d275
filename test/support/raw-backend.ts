import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { closeServer, listenOnLoopback } from './listen.js'
import { recordRequest } from './record-request.js'
import type { RecordedRequest } from './record-request.js'

/** `record` is this request's entry in `requests`; a handler that reads the body may set `record.body`. */
export type RawHandler = (req: IncomingMessage, res: ServerResponse, record: RecordedRequest) => void | Promise<void>

export interface RawBackend {
  /** `http://127.0.0.1:<port>/mcp`, for symmetry with the MCP backend; any path reaches the handler. */
  readonly url: string
  readonly origin: string
  readonly port: number
  readonly requests: RecordedRequest[]
  close(): Promise<void>
}

/** A bare node:http server for tests that need exact control of timing, headers and failures. */
export async function startRawBackend(handler: RawHandler): Promise<RawBackend> {
  const requests: RecordedRequest[] = []
  const server = createServer((req, res) => {
    const record = recordRequest(req)
    requests.push(record)
    Promise.resolve()
      .then(() => handler(req, res, record))
      .catch((error: unknown) => {
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'text/plain' })
          res.end(`raw backend handler failed: ${String(error)}`)
        } else {
          res.destroy()
        }
      })
  })
  const port = await listenOnLoopback(server)
  const origin = `http://127.0.0.1:${port}`
  return {
    url: `${origin}/mcp`,
    origin,
    port,
    requests,
    close: () => closeServer(server),
  }
}
