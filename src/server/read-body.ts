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

/** Whether `readBody` refused the body for its size (the caller answers 413). */
export function isTooLarge(error: unknown): boolean {
  return error instanceof BadRequest && error.reason === 'body_too_large'
}

function tooLarge(): BadRequest {
  return new BadRequest('body_too_large', 'The request body is too large', 413)
}
