import type { IncomingMessage } from 'node:http'

/** Thrown when a request body exceeds the caller's limit; the caller answers 413. */
export class BodyTooLargeError extends Error {
  constructor() {
    super('request body too large')
    this.name = 'BodyTooLargeError'
  }
}

/**
 * Reads a whole request body as UTF-8, refusing more than `limit` bytes. The demo servers are
 * small and local, so buffering is fine; the limit keeps a stray client from filling memory.
 * A single chunk (the common case for small JSON-RPC bodies) is decoded without a copy.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let first: Buffer | undefined
    let rest: Buffer[] | undefined
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        req.removeAllListeners('data')
        req.resume()
        reject(new BodyTooLargeError())
        return
      }
      if (first === undefined) first = chunk
      else (rest ??= [first]).push(chunk)
    })
    req.on('end', () => {
      if (rest !== undefined) resolve(Buffer.concat(rest, size).toString('utf8'))
      else resolve(first === undefined ? '' : first.toString('utf8'))
    })
    req.on('error', reject)
  })
}
