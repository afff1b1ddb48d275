import { Transform } from 'node:stream'
import type { ProtocolVersion } from '../jsonrpc/protocol-version.js'
import { rewriteParsed, type ListFilter } from './filter-list.js'

const LF = 0x0a
const CR = 0x0d
const COLON = 0x3a
const SPACE = 0x20
const LF_BYTE = Buffer.from([LF])

export interface SseListFilterOptions {
  /** Largest event held while deciding whether it is a list response, in bytes. Default: 16 MiB. */
  readonly maxEventBytes?: number
}

/** Length of the line ending a complete raw line ends with (CRLF, LF or CR). */
function terminatorLength(raw: Buffer): number {
  return raw.length >= 2 && raw[raw.length - 2] === CR && raw[raw.length - 1] === LF ? 2 : 1
}

interface HeldLine {
  raw: Buffer
  readonly data: boolean
}

/**
 * A `Transform` for a `text/event-stream` response body that rewrites only the `data` of `message`
 * events holding the JSON-RPC response to one of the filter's list requests (through
 * `filterJsonRpcResponse`); every other byte passes through unchanged.
 *
 * Parsing follows the WHATWG event-stream rules (HTML §9.2.6): lines end in CRLF, LF or CR, also
 * across chunk boundaries; `data` lines join with LF; a line starting with `:` is a comment. Comment
 * lines, and the lines of an event known not to be a list response (another `event` type, or data
 * that is not JSON), go out as they arrive. Other events are held only until their closing blank
 * line, which is when a client would dispatch them anyway, so nothing is delayed. Once every list
 * request has its response, the rest of the stream is passed on without looking at it.
 *
 * An event larger than `maxEventBytes` while undecided fails the stream (fail closed).
 */
export function createSseListFilter(filter: ListFilter, version: ProtocolVersion, options: SseListFilterOptions = {}): Transform {
  const maxEventBytes = options.maxEventBytes ?? 16 * 1024 * 1024
  const pending = new Set<string | number>(filter.requests.keys())
  let held: HeldLine[] = []
  let heldBytes = 0
  let data: string[] = []
  /** The current event is known not to be rewritten: its lines pass as they come. */
  let passing = false
  /** Where the current line goes: not started yet, passed as it arrives, or collected in `carry`. */
  let line: 'start' | 'pass' | 'hold' = 'start'
  let carry: Buffer[] = []
  let carryBytes = 0
  /** The last chunk ended in CR: an LF opening the next chunk completes that line ending. */
  let afterCR = false
  let lastLine: 'passed' | 'held' = 'passed'

  function resetEvent(): void {
    held = []
    heldBytes = 0
    data = []
    passing = false
  }

  function startPassing(out: Buffer[]): void {
    for (const entry of held) out.push(entry.raw)
    held = []
    heldBytes = 0
    data = []
    passing = true
  }

  function tryRewrite(): string | undefined {
    const text = data.length === 1 ? (data[0] as string) : data.join('\n')
    if (!text.includes('"result"') && !text.includes('"error"')) return undefined
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      return undefined
    }
    for (const message of Array.isArray(value) ? value : [value]) {
      if (typeof message === 'object' && message !== null && (message as { method?: unknown }).method === undefined) {
        const id = (message as { id?: unknown }).id
        if (typeof id === 'string' || typeof id === 'number') pending.delete(id)
      }
    }
    const rewritten = rewriteParsed(filter, value, version)
    return rewritten === undefined ? undefined : JSON.stringify(rewritten)
  }

  function dispatch(terminator: Buffer, out: Buffer[]): void {
    if (!passing && data.length > 0) {
      const json = tryRewrite()
      if (json !== undefined) {
        // One data line where the first one was, ending as that line ended; other fields keep their place.
        let written = false
        for (const entry of held) {
          if (!entry.data) out.push(entry.raw)
          else if (!written) {
            out.push(Buffer.from(`data: ${json}`, 'utf8'), entry.raw.subarray(entry.raw.length - terminatorLength(entry.raw)))
            written = true
          }
        }
        out.push(terminator)
        lastLine = 'passed'
        resetEvent()
        return
      }
    }
    for (const entry of held) out.push(entry.raw)
    out.push(terminator)
    lastLine = 'passed'
    resetEvent()
  }

  /** A complete field line of an undecided event (HTML §9.2.6 "process the field"). */
  function fieldLine(raw: Buffer, contentLength: number, out: Buffer[]): Error | undefined {
    const colon = raw.subarray(0, contentLength).indexOf(COLON)
    const name = colon === -1 ? raw.toString('utf8', 0, contentLength) : raw.toString('utf8', 0, colon)
    let valueStart = colon === -1 ? contentLength : colon + 1
    if (valueStart < contentLength && raw[valueStart] === SPACE) valueStart++
    if (name === 'event') {
      const type = raw.toString('utf8', valueStart, contentLength)
      if (type !== '' && type !== 'message') {
        startPassing(out)
        out.push(raw)
        lastLine = 'passed'
        return undefined
      }
    } else if (name === 'data') {
      const value = raw.toString('utf8', valueStart, contentLength)
      // A JSON-RPC response is an object (or a batch array): anything else cannot need rewriting.
      if (data.length === 0 && !/^\s*[[{]/.test(value)) {
        startPassing(out)
        out.push(raw)
        lastLine = 'passed'
        return undefined
      }
      data.push(value)
    }
    held.push({ raw, data: name === 'data' })
    heldBytes += raw.length
    lastLine = 'held'
    return heldBytes > maxEventBytes ? new Error('SSE event too large to filter') : undefined
  }

  function process(chunk: Buffer, out: Buffer[]): Error | undefined {
    const length = chunk.length
    let pos = 0
    if (afterCR) {
      afterCR = false
      if (chunk[0] === LF) {
        pos = 1
        if (lastLine === 'passed') out.push(LF_BYTE)
        else if (lastLine === 'held') {
          const last = held[held.length - 1]
          if (last !== undefined) last.raw = Buffer.concat([last.raw, LF_BYTE])
        }
      }
    }
    // Next LF and CR at or after `pos`, searched again only once passed, so a chunk is scanned linearly.
    let lf = -2
    let cr = -2
    while (pos < length) {
      if (line === 'start' && pending.size === 0 && held.length === 0 && !passing) {
        out.push(chunk.subarray(pos))
        return undefined
      }
      if (lf !== -1 && lf < pos) lf = chunk.indexOf(LF, pos)
      if (cr !== -1 && cr < pos) cr = chunk.indexOf(CR, pos)
      const end = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr)
      if (line === 'start') {
        if (end === pos) {
          const size = chunk[end] === CR && chunk[end + 1] === LF ? 2 : 1
          dispatch(chunk.subarray(end, end + size), out)
          pos = end + size
          if (size === 1 && chunk[end] === CR && pos === length) afterCR = true
          continue
        }
        line = passing || chunk[pos] === COLON ? 'pass' : 'hold'
      }
      if (end === -1) {
        const rest = chunk.subarray(pos)
        if (line === 'pass') out.push(rest)
        else {
          carry.push(rest)
          carryBytes += rest.length
          if (heldBytes + carryBytes > maxEventBytes) return new Error('SSE event too large to filter')
        }
        return undefined
      }
      const size = chunk[end] === CR && chunk[end + 1] === LF ? 2 : 1
      const next = end + size
      if (size === 1 && chunk[end] === CR && next === length) afterCR = true
      if (line === 'pass') {
        out.push(chunk.subarray(pos, next))
        lastLine = 'passed'
      } else {
        const raw = carry.length === 0 ? chunk.subarray(pos, next) : Buffer.concat([...carry, chunk.subarray(pos, next)])
        carry = []
        carryBytes = 0
        const error = fieldLine(raw, raw.length - size, out)
        if (error !== undefined) return error
      }
      line = 'start'
      pos = next
    }
    return undefined
  }

  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const out: Buffer[] = []
      const error = process(chunk, out)
      if (out.length === 1) this.push(out[0])
      else if (out.length > 1) this.push(Buffer.concat(out))
      callback(error)
    },
    flush(callback) {
      // An unterminated last event is dropped by clients (HTML §9.2.6); forward its bytes as they were.
      const out = [...held.map((entry) => entry.raw), ...carry]
      if (out.length > 0) this.push(Buffer.concat(out))
      callback()
    },
  })
}
