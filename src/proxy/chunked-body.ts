import { ResponseHeadError } from './response-head.js'

// Where the decoder is: numbers rather than strings, compared on every byte run.
const State = { Size: 0, Data: 1, DataCr: 2, DataLf: 3, Trailer: 4 } as const
type State = (typeof State)[keyof typeof State]

/**
 * Decodes a chunked response body (RFC 9112 §7.1) as it arrives, handing each piece of chunk data
 * on as soon as it is read (an SSE event is usually one chunk: it is forwarded without waiting for
 * the next). Chunk extensions are checked and ignored (§7.1.1), trailer fields checked and dropped
 * (§7.1.2: a recipient may discard them; the gateway forwards none).
 */
export class ChunkedBody {
  #state: State = State.Size
  #remaining = 0
  /** A size or trailer line split across reads. */
  #line = ''
  #trailerBytes = 0
  readonly #maxTrailerBytes: number

  constructor(maxTrailerBytes: number) {
    this.#maxTrailerBytes = maxTrailerBytes
  }

  /**
   * Consumes `data` from `start`, calling `onData` with each piece of chunk data. Returns the
   * offset just past the body's end (the last-chunk and trailer section) once it is reached, or -1
   * when every byte was consumed and more are needed. Throws ResponseHeadError on bad framing.
   */
  feed(data: Buffer, start: number, onData: (chunk: Buffer) => void): number {
    let pos = start
    const length = data.length
    while (pos < length) {
      switch (this.#state) {
        case State.Data: {
          const take = Math.min(this.#remaining, length - pos)
          onData(data.subarray(pos, pos + take))
          pos += take
          this.#remaining -= take
          if (this.#remaining === 0) this.#state = State.DataCr
          break
        }
        case State.DataCr:
          if (data[pos++] !== 0x0d) throw new ResponseHeadError('chunk data longer than its size')
          this.#state = State.DataLf
          break
        case State.DataLf:
          if (data[pos++] !== 0x0a) throw new ResponseHeadError('chunk data longer than its size')
          this.#state = State.Size
          break
        case State.Size:
        case State.Trailer: {
          const lf = data.indexOf(0x0a, pos)
          const end = lf === -1 ? length : lf
          if (this.#line.length + (end - pos) > (this.#state === State.Size ? MAX_SIZE_LINE : this.#maxTrailerBytes)) {
            throw new ResponseHeadError('a chunk size or trailer line too long')
          }
          const piece = data.toString('latin1', pos, end)
          pos = lf === -1 ? length : lf + 1
          if (lf === -1) {
            this.#line += piece
            break
          }
          const line = this.#line + piece
          this.#line = ''
          if (!line.endsWith('\r')) throw new ResponseHeadError('a bare LF in a chunked body')
          if (this.#state === State.Size) this.#size(line.slice(0, -1))
          else if (this.#trailer(line.slice(0, -1))) return pos
          break
        }
      }
    }
    return -1
  }

  #size(line: string): void {
    const match = SIZE_LINE.exec(line)
    if (match === null) throw new ResponseHeadError('an invalid chunk size line')
    const size = Number.parseInt(match[1] as string, 16)
    if (size === 0) {
      this.#state = State.Trailer
    } else {
      this.#remaining = size
      this.#state = State.Data
    }
  }

  /** One trailer line; true at the empty line that ends the message. */
  #trailer(line: string): boolean {
    if (line === '') return true
    this.#trailerBytes += line.length + 2
    if (this.#trailerBytes > this.#maxTrailerBytes) throw new ResponseHeadError('a trailer section too large')
    if (!TRAILER_LINE.test(line)) throw new ResponseHeadError('an invalid trailer field')
    return false
  }
}


// chunk-size = 1*HEXDIG, at most 12 digits (2^48: beyond any body a process holds), then
// chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ( token / quoted-string ) ] ) (RFC 9112 §7.1.1).
const SIZE_LINE =
  /^([0-9A-Fa-f]{1,12})(?:[ \t]*;[ \t]*[!#$%&'*+.^_`|~0-9A-Za-z-]+(?:[ \t]*=[ \t]*(?:[!#$%&'*+.^_`|~0-9A-Za-z-]+|"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"))?)*[ \t]*$/
const MAX_SIZE_LINE = 4096
// A trailer field line is a field line (RFC 9112 §7.1.2, §5): token ":" OWS value, no obs-fold.
const TRAILER_LINE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t\x20-\x7e\x80-\xff]*$/
