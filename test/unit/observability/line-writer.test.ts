import { test, describe, afterEach, mock } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import { mkdtemp, readFile, rename, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createLineWriter, type LineWriter, type LineWriterOptions } from '../../../src/observability/line-writer.js'

const WRITER = new URL('../../../src/observability/line-writer.ts', import.meta.url).pathname

/** The byte counts of the writes made, calling through to the real write(2). */
function watchWrites(): Array<{ fd: number; text: string }> {
  const writes: Array<{ fd: number; text: string }> = []
  const real = fs.writeSync
  mock.method(fs, 'writeSync', (fd: number, buffer: Buffer, offset: number, length: number) => {
    writes.push({ fd, text: buffer.subarray(offset, offset + length).toString('utf8') })
    return real(fd, buffer, offset, length)
  })
  return writes
}

async function tempFile(): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'line-writer-'))
  return { dir, file: join(dir, 'nested', 'out.jsonl') }
}

/** A writer to a fresh file in a temp directory, given to `use`; then ended and the directory removed. */
async function withFileWriter(options: Omit<LineWriterOptions, 'path' | 'fd'>, use: (writer: LineWriter, file: string) => Promise<void>): Promise<void> {
  const { dir, file } = await tempFile()
  const writer = createLineWriter({ path: file, ...options })
  try {
    await use(writer, file)
  } finally {
    writer.end()
    await rm(dir, { recursive: true, force: true })
  }
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return
    await sleep(10)
  }
  assert.fail(`timed out waiting for ${what}`)
}

afterEach(() => mock.restoreAll())

describe('createLineWriter', () => {
  test('lines wait for the timer, then go out together in one write', async () => {
    const writes = watchWrites()
    await withFileWriter({ flushMs: 30 }, async (writer, file) => {
      writer.write('{"a":1}\n')
      writer.write('{"a":2}\n')
      writer.write('{"a":3}\n')
      // Read synchronously: an await here would let a loaded machine run the timer first.
      assert.equal(fs.readFileSync(file, 'utf8'), '', 'nothing before the timer')
      await until(async () => (await readFile(file, 'utf8')) !== '', 'the timed write')
      assert.equal(await readFile(file, 'utf8'), '{"a":1}\n{"a":2}\n{"a":3}\n')
      assert.equal(writes.length, 1)
    })
  })

  test('a full buffer is written at once, in order, and nothing after it waits for long', async () => {
    const writes = watchWrites()
    await withFileWriter({ bufferBytes: 100, flushMs: 10_000 }, async (writer, file) => {
      const lines = Array.from({ length: 10 }, (_, i) => `{"line":${i},"pad":"${'x'.repeat(20)}"}\n`)
      for (const line of lines) writer.write(line)
      // 40 bytes a line: the 3rd, 6th and 9th filled the buffer; the 10th waits.
      assert.equal(writes.length, 3)
      assert.equal(await readFile(file, 'utf8'), lines.slice(0, 9).join(''))
      writer.flushSync()
      assert.equal(await readFile(file, 'utf8'), lines.join(''))
    })
  })

  test('maxWrite: every write ends on a line and stays under the limit; a longer line goes alone', async () => {
    const writes = watchWrites()
    await withFileWriter({ maxWrite: 64, flushMs: 10_000 }, async (writer, file) => {
      const lines = ['{"é":"ü€"}\n', `{"long":"${'y'.repeat(100)}"}\n`, ...Array.from({ length: 12 }, (_, i) => `{"n":${i},"s":"😀"}\n`)]
      for (const line of lines) writer.write(line)
      writer.flushSync()
      assert.equal(await readFile(file, 'utf8'), lines.join(''))
      assert.ok(writes.length > 3)
      for (const { text } of writes) {
        assert.ok(text.endsWith('\n'), 'a write ends on a line')
        assert.ok(Buffer.byteLength(text) <= 64 || !text.slice(0, -1).includes('\n'), `${Buffer.byteLength(text)} bytes in one write`)
      }
    })
  })

  test('a line longer than the whole buffer keeps its place between the others', async () => {
    await withFileWriter({ flushMs: 10_000 }, async (writer, file) => {
      const long = `{"big":"${'z'.repeat(200_000)}"}\n`
      writer.write('{"before":1}\n')
      writer.write(long)
      writer.write('{"after":1}\n')
      writer.flushSync()
      assert.equal(await readFile(file, 'utf8'), `{"before":1}\n${long}{"after":1}\n`)
    })
  })

  test('a full non-blocking descriptor (EAGAIN) keeps the lines and retries, in order', async () => {
    const real = fs.writeSync
    let refusals = 2
    mock.method(fs, 'writeSync', (fd: number, buffer: Buffer, offset: number, length: number) => {
      if (refusals-- > 0) throw Object.assign(new Error('EAGAIN: resource temporarily unavailable, write'), { code: 'EAGAIN' })
      return real(fd, buffer, offset, length)
    })
    await withFileWriter({ bufferBytes: 10, flushMs: 10_000 }, async (writer, file) => {
      writer.write('{"first":1}\n')
      writer.write('{"second":2}\n')
      assert.equal(fs.readFileSync(file, 'utf8'), '')
      await until(async () => (await readFile(file, 'utf8')).includes('second'), 'the retry')
      writer.write('{"third":3}\n')
      writer.flushSync()
      assert.equal(await readFile(file, 'utf8'), '{"first":1}\n{"second":2}\n{"third":3}\n')
    })
  })

  test('a failing descriptor drops its lines and says so once on stderr, never throws', () => {
    mock.method(fs, 'writeSync', () => {
      throw Object.assign(new Error('EPIPE: broken pipe, write'), { code: 'EPIPE' })
    })
    const said: string[] = []
    mock.method(process.stderr, 'write', (text: string) => said.push(text))
    const writer = createLineWriter({ fd: 99, bufferBytes: 10 })
    writer.write('{"lost":1}\n')
    writer.write('{"lost":2}\n')
    writer.flushSync()
    assert.equal(said.length, 1)
    assert.match(said[0] as string, /cannot write to descriptor 99: EPIPE/)
  })

  test('reopen after logrotate moved the file; end writes out and closes; later lines are dropped', async () => {
    const { dir, file } = await tempFile()
    const writer = createLineWriter({ path: file, flushMs: 10_000 })
    try {
      writer.write('{"old":1}\n')
      await rename(file, `${file}.1`)
      writer.reopen()
      writer.write('{"new":1}\n')
      writer.end()
      writer.write('{"late":1}\n')
      writer.flushSync()
      assert.equal(await readFile(`${file}.1`, 'utf8'), '{"old":1}\n')
      assert.equal(await readFile(file, 'utf8'), '{"new":1}\n')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  for (const [how, ending] of [
    ['process.exit()', 'process.exit(0)'],
    ['an uncaught exception', "throw new Error('fatal')"],
    ['an unhandled rejection', "void Promise.reject(new Error('fatal'))"],
    ['the end of the event loop', ''],
  ] as const) {
    test(`lines still buffered at ${how} are written to stdout`, async () => {
      const code = `import { createLineWriter } from ${JSON.stringify(WRITER)}
const out = createLineWriter({ fd: 1, flushMs: 60_000, maxWrite: 4096 })
for (let i = 0; i < 1000; i++) out.write(JSON.stringify({ i, pad: 'p'.repeat(40) }) + '\\n')
${ending}`
      const stdout = await new Promise<string>((resolve) => {
        execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { maxBuffer: 1 << 24 }, (_error, out) => resolve(out))
      })
      const lines = stdout.split('\n').filter((l) => l !== '')
      assert.equal(lines.length, 1000)
      assert.deepEqual(lines.map((l) => (JSON.parse(l) as { i: number }).i), Array.from({ length: 1000 }, (_, i) => i))
    })
  }
})
