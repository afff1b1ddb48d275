import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'

/** One HTTP request exactly as a test peer received it. */
export interface RecordedRequest {
  readonly method: string
  /** Path and query as sent on the request line. */
  readonly url: string
  /** Node's parsed headers: names lower-cased, duplicates joined. */
  readonly headers: IncomingHttpHeaders
  /** Names and values in wire order and casing, so tests can see duplicates too. */
  readonly rawHeaders: readonly string[]
  /** The request body as text; filled in only by peers that read bodies. */
  body?: string
  readonly receivedAt: number
}

export function recordRequest(req: IncomingMessage): RecordedRequest {
  return {
    method: req.method ?? '',
    url: req.url ?? '',
    headers: { ...req.headers },
    rawHeaders: [...req.rawHeaders],
    receivedAt: Date.now(),
  }
}

/** Reads a request body with a size cap, so a runaway client cannot hang a test on memory. */
export async function readBody(req: IncomingMessage, limitBytes = 10 * 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer)
    size += buffer.length
    if (size > limitBytes) throw new Error(`request body over ${limitBytes} bytes`)
    chunks.push(buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}
