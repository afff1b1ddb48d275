import type { IncomingMessage } from 'node:http'
import { BadRequest } from '../errors.js'

/**
 * Reads a request body into one buffer, refusing it as soon as it passes `limit` bytes: by its
 * `Content-Length` before reading anything, or while reading a chunked body.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length']
  if (declared !== undefined && Number(declared) > limit) {
    return Promise.reject(tooLarge())
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        cleanup()
        req.resume()
        reject(tooLarge())
        return
      }
      chunks.push(chunk)
    }
    const onEnd = () => {
      cleanup()
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size))
    }
    const onError = (error: Error) => {
      cleanup()
      reject(new BadRequest('invalid_body', 'The request body could not be read', 400, { cause: error }))
    }
    const cleanup = () => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
    }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
  })
}

const EMPTY = Buffer.alloc(0)

/**
 * `readBody` for the gateway's own requests, where the body usually came in the same read as the
 * head: node hands the head over before it parses the rest of that read, and the body's bytes are
 * in the stream's buffer when an `await` resumes. All `Content-Length` bytes there (node's parser
 * delivers no more than declared) are taken in one `read()`: no listeners, no flowing mode, no
 * ticks. Anything else (a body still arriving, a chunked one) is read by `readBody`.
 */
export async function readRequestBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length']
  if (declared !== undefined) {
    const length = Number(declared)
    if (length > limit) throw tooLarge()
    if (req.readableLength < length) await undefined
    if (req.readableLength === length && req.readableFlowing === null) {
      return length === 0 ? EMPTY : (req.read() as Buffer)
    }
  }
  return readBody(req, limit)
}

/** Whether `readBody` refused the body for its size (the caller answers 413). */
export function isTooLarge(error: unknown): boolean {
  return error instanceof BadRequest && error.reason === 'body_too_large'
}

function tooLarge(): BadRequest {
  return new BadRequest('body_too_large', 'The request body is too large', 413)
}
