// Through the module object, so a test can watch each write(2) (node:test `mock.method`).
import fs from 'node:fs'
import { dirname } from 'node:path'

/**
 * A buffered sink for JSON lines: stdout shared by the logger and the audit trail, or the audit
 * file. Lines are encoded into one reused buffer and go out together in one write(2) when
 * `bufferBytes` are waiting or `flushMs` after the first of them, whichever comes first; under
 * load that is one system call for dozens of requests instead of one per line (and no thread-pool
 * round trip per line, as the asynchronous sonic-boom writer made). The writes are synchronous:
 * lines stay in order, `flushSync` is exact, and a blocking consumer that cannot keep up slows
 * the gateway down instead of letting memory grow (a full non-blocking descriptor keeps the lines
 * and is retried). Everything buffered is written by `flushSync`/`end`, and by a process `exit`
 * hook, which runs on `process.exit`, when the event loop ends, and after an uncaught exception
 * or unhandled rejection.
 */
export interface LineWriter {
  /** Appends whole lines (each ending in `\n`). Always true: pino's stream contract. */
  write(lines: string): boolean
  /** Writes out everything buffered, now. */
  flushSync(): void
  /** Writes out everything buffered and, for a file, waits until it is on disk (fsync(2)). */
  fsyncSync(): void
  /** pino's `logger.flush(cb)`: the same, then the callback. */
  flush(callback?: (error?: Error) => void): void
  /** A file writer reopens its path (after logrotate moved the file); nothing for a descriptor. */
  reopen(): void
  /** Flushes; a file writer also closes its file and drops later lines. A descriptor stays open. */
  end(): void
}

export interface LineWriterOptions {
  /** An open descriptor (1 for stdout); never closed here. */
  fd?: number
  /** A file, opened for appending (O_APPEND, so several processes may share it), with its directory. */
  path?: string
  /**
   * Largest single write(2), cut between lines. Processes sharing one pipe set PIPE_BUF (4096):
   * a pipe write of at most that size is atomic (POSIX), so lines of two workers never interleave.
   */
  maxWrite?: number
  /** Write once this many bytes wait. Default 16384 (well under a 64 KiB pipe buffer). */
  bufferBytes?: number
  /** Longest time a line waits, in ms. Default 50. */
  flushMs?: number
}

const DEFAULT_BUFFER = 16_384
const DEFAULT_FLUSH_MS = 50
const NEWLINE = 0x0a
/** Most bytes one UTF-16 code unit takes in UTF-8. */
const MAX_BYTES_PER_UNIT = 3
/** A non-blocking descriptor that is full: retried after this long (and waited for at exit). */
const RETRY_MS = 10
const EXIT_WAIT_MS = 2000

const live = new Set<{ flushSync(wait: boolean): void }>()
let exitHook = false

export function createLineWriter(options: LineWriterOptions): LineWriter {
  const maxWrite = options.maxWrite ?? Number.POSITIVE_INFINITY
  const bufferBytes = options.bufferBytes ?? DEFAULT_BUFFER
  const flushMs = options.flushMs ?? DEFAULT_FLUSH_MS
  const path = options.path
  let fd = path === undefined ? (options.fd ?? 1) : openAppend(path)
  // Lines are encoded straight into one reused buffer: no string of the whole batch is built,
  // and nothing is allocated per line or per write.
  const buffer = Buffer.allocUnsafe(Math.max(4 * bufferBytes, 65_536))
  let used = 0
  /** Bytes older than `buffer`'s that a full non-blocking descriptor did not take yet. */
  let backlog: Buffer[] = []
  let timer: NodeJS.Timeout | undefined
  let ended = false
  let reported = false

  const onTimer = () => {
    timer = undefined
    flushNow(false)
  }

  /** Writes the backlog, then the buffer; what a full descriptor did not take stays in the backlog. */
  function flushNow(wait: boolean): void {
    if (used === 0 && backlog.length === 0) return
    const deadline = wait ? Date.now() + EXIT_WAIT_MS : 0
    while (backlog.length > 0) {
      const chunk = backlog[0] as Buffer
      const written = writeOut(chunk, chunk.length, wait, deadline)
      if (written < chunk.length) {
        if (written >= 0) backlog[0] = chunk.subarray(written)
        else backlog = []
        if (written >= 0 && used > 0) keep()
        return
      }
      backlog.shift()
    }
    const written = writeOut(buffer, used, wait, deadline)
    if (written >= 0 && written < used) {
      backlog.push(Buffer.from(buffer.subarray(written, used)))
    }
    used = 0
  }

  /** Moves the buffer's bytes behind the backlog, so the buffer can take new lines. */
  function keep(): void {
    backlog.push(Buffer.from(buffer.subarray(0, used)))
    used = 0
  }

  /**
   * Writes `bytes[0, length)` in writes of at most `maxWrite` bytes cut after a newline; returns
   * how much went out, or -1 when the descriptor failed (the bytes are dropped).
   */
  function writeOut(bytes: Buffer, length: number, wait: boolean, deadline: number): number {
    let offset = 0
    while (offset < length) {
      const end = cut(bytes, offset, length, maxWrite)
      try {
        offset += fs.writeSync(fd, bytes, offset, end - offset)
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK') {
          if (wait && Date.now() < deadline) {
            sleep(1)
            continue
          }
          if (!wait) schedule(RETRY_MS)
          return offset
        }
        // EPIPE (the reader is gone), ENOSPC, EBADF: these lines are lost; say so once, on stderr.
        report(error as Error)
        return -1
      }
    }
    return offset
  }

  function schedule(ms: number): void {
    if (timer !== undefined) return
    timer = setTimeout(onTimer, ms)
    timer.unref()
  }

  function report(error: Error): void {
    if (reported) return
    reported = true
    process.stderr.write(`mcp-resource-gateway: cannot write to ${path ?? `descriptor ${fd}`}: ${error.message}; lines are dropped\n`)
  }

  const handle = { flushSync: flushNow }
  live.add(handle)
  if (!exitHook) {
    exitHook = true
    process.on('exit', () => {
      for (const writer of live) writer.flushSync(true)
    })
  }

  return {
    write(lines) {
      if (ended) return true
      if (lines.length * MAX_BYTES_PER_UNIT > buffer.length - used) {
        // No room for the worst case: write out first (or, while the descriptor is full, set
        // the buffer aside); a line longer than the whole buffer goes to the backlog itself.
        if (backlog.length === 0) flushNow(false)
        if (used > 0) keep()
        if (lines.length * MAX_BYTES_PER_UNIT > buffer.length) {
          backlog.push(Buffer.from(lines, 'utf8'))
          if (backlog.length === 1) flushNow(false)
          return true
        }
      }
      used += buffer.write(lines, used)
      // While a full descriptor holds a backlog, its retry timer writes; not every new line.
      if (used >= bufferBytes && backlog.length === 0) flushNow(false)
      else schedule(flushMs)
      return true
    },
    flushSync() {
      flushNow(true)
    },
    fsyncSync() {
      flushNow(true)
      if (path === undefined || ended) return
      try {
        fs.fsyncSync(fd)
      } catch (error) {
        report(error as Error)
      }
    },
    flush(callback) {
      flushNow(true)
      callback?.()
    },
    reopen() {
      if (path === undefined || ended) return
      flushNow(true)
      let next: number
      try {
        next = openAppend(path)
      } catch (error) {
        report(error as Error)
        return
      }
      fs.closeSync(fd)
      fd = next
      reported = false
    },
    end() {
      if (ended) return
      flushNow(true)
      if (path === undefined) return
      ended = true
      live.delete(handle)
      if (timer !== undefined) clearTimeout(timer)
      fs.closeSync(fd)
    },
  }
}

function openAppend(path: string): number {
  fs.mkdirSync(dirname(path), { recursive: true })
  return fs.openSync(path, 'a')
}

/** End of the next write from `offset`: at most `maxWrite` bytes, on a line end when one fits. */
function cut(bytes: Buffer, offset: number, length: number, maxWrite: number): number {
  if (length - offset <= maxWrite) return length
  const last = bytes.lastIndexOf(NEWLINE, offset + maxWrite - 1)
  if (last >= offset) return last + 1
  // One line longer than maxWrite: it goes alone (it cannot be atomic anyway).
  const next = bytes.indexOf(NEWLINE, offset + maxWrite)
  return next === -1 || next >= length ? length : next + 1
}

const sleeper = new Int32Array(new SharedArrayBuffer(4))
function sleep(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms)
}
