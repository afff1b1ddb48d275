import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Pool } from 'undici'

/**
 * Calibration, not a product: the floor for any Node proxy on this machine (the issue's "best
 * plain Node proxy": node:http + undici `Pool.stream`, body buffered and parsed, no auth). The
 * gateway's cost above this row is its own logic; below it nothing in Node goes.
 */
const backend = process.argv[2] as string
const pool = new Pool(backend, { connections: 128, pipelining: 1 })
const DROP = new Set(['authorization', 'connection', 'keep-alive', 'host', 'content-length', 'transfer-encoding'])

const server = createServer((req, res) => {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    const body = Buffer.concat(chunks)
    try {
      JSON.parse(body.toString('utf8'))
    } catch {
      res.writeHead(400).end()
      return
    }
    const headers: Record<string, string | string[]> = {}
    for (const name in req.headers) {
      const value = req.headers[name]
      if (value !== undefined && !DROP.has(name)) headers[name] = value
    }
    pool
      .stream({ path: req.url ?? '/', method: 'POST', headers, body }, ({ statusCode, headers: h }) => {
        const out: Record<string, string | string[]> = {}
        for (const name in h) {
          const value = h[name]
          if (value !== undefined && name !== 'connection' && name !== 'keep-alive') out[name] = value
        }
        res.writeHead(statusCode, out)
        return res
      })
      .catch(() => {
        if (!res.headersSent) res.writeHead(502)
        res.end()
      })
  })
})
server.keepAliveTimeout = 65_000
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo
  process.stdout.write(`${JSON.stringify({ ready: true, url: `http://127.0.0.1:${port}` })}\n`)
})
process.once('SIGTERM', () => {
  server.close()
  server.closeAllConnections()
  void pool.close().finally(() => process.exit(0))
})
