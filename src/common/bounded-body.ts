/**
 * A response body as UTF-8 text, read chunk by chunk and given up as soon as it passes `maxBytes`
 * (`undefined`): an authorization server's answer is never held in memory past the limit, whatever
 * its `Content-Length` says or leaves out.
 */
export async function readBoundedText(body: AsyncIterable<Uint8Array>, maxBytes: number): Promise<string | undefined> {
  const chunks: Uint8Array[] = []
  let size = 0
  // Leaving the loop early ends the iterator, which cancels the stream.
  for await (const chunk of body) {
    size += chunk.byteLength
    if (size > maxBytes) return undefined
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** application/x-www-form-urlencoded, as RFC 6749 Appendix B encodes client credentials. */
export function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2)
}
