import { isUtf8 } from 'node:buffer'
import { checkJsonText } from '../src/jsonrpc/json-text.js'

/**
 * `node --import tsx bench/micro-json-text.ts`: what the request body checks cost before
 * `JSON.parse` (UTF-8 validation, nesting depth and repeated member names in every object), against
 * the depth-only scan they replaced and against the parse itself, on bodies from a typical
 * `tools/call` to a 1 MiB one made of small objects (the worst case for name tracking).
 */
const call = (args: unknown) => Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'echo', arguments: args } }))
const rows = (n: number) => Array.from({ length: n }, (_, i) => ({ id: i, name: `item-${i}`, tags: ['a', 'b'], ok: true }))
const bodies: [string, Buffer][] = [
  ['tools/call, 1 argument', call({ text: 'hi' })],
  ['tools/call, 16 KiB of text', call({ text: 'lorem ipsum '.repeat(1365) })],
  ['tools/call, 64 KiB of small objects', call({ rows: rows(1000) })],
  ['tools/call, 1 MiB of small objects', call({ rows: rows(16_000) })],
]

/** The depth-only scan `checkJsonText` replaced, for the comparison. */
function depthOnly(body: Buffer, maxDepth: number): boolean {
  let depth = 0
  for (let i = 0; i < body.length; i++) {
    const byte = body[i]
    if (byte === 0x22) {
      let end = i
      for (;;) {
        end = body.indexOf(0x22, end + 1)
        if (end === -1) return false
        let backslashes = 0
        while (body[end - 1 - backslashes] === 0x5c) backslashes++
        if ((backslashes & 1) === 0) break
      }
      i = end
    } else if (byte === 0x7b || byte === 0x5b) {
      if (++depth > maxDepth) return true
    } else if (byte === 0x7d || byte === 0x5d) depth--
  }
  return false
}

function time(fn: () => unknown, budgetMs: number): number {
  let n = 0
  const warm = performance.now()
  while (performance.now() - warm < budgetMs / 4) (fn(), n++)
  const runs = Math.max(n * 4, 10)
  const start = performance.now()
  for (let i = 0; i < runs; i++) fn()
  return ((performance.now() - start) * 1000) / runs
}

const fmt = (us: number) => (us < 10 ? us.toFixed(2) : us.toFixed(0)).padStart(8)
console.log(`${'body'.padEnd(38)} ${'bytes'.padStart(8)} ${'depth(old)'.padStart(10)} ${'isUtf8'.padStart(8)} ${'check'.padStart(8)} ${'parse'.padStart(8)}   µs per body`)
for (let round = 0; round < 2; round++) {
  for (const [label, body] of bodies) {
    const old = time(() => depthOnly(body, 64), 300)
    const utf8 = time(() => isUtf8(body), 300)
    const check = time(() => checkJsonText(body, 64), 300)
    const parse = time(() => JSON.parse(body.toString('utf8')), 300)
    console.log(`${label.padEnd(38)} ${String(body.length).padStart(8)} ${fmt(old).padStart(10)} ${fmt(utf8)} ${fmt(check)} ${fmt(parse)}`)
  }
}
