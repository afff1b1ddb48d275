const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d
const OPEN_BRACKET = 0x5b
const CLOSE_BRACKET = 0x5d

/**
 * Whether JSON text nests objects and arrays deeper than `maxDepth`, found by one scan of the bytes
 * before `JSON.parse` ever sees them, so a hostile body costs no parse and no deep object graph.
 * Brackets inside strings are skipped (strings are jumped over with `indexOf`, natively). The scan
 * does not validate: malformed text is `JSON.parse`'s job, which runs after it.
 */
export function exceedsJsonDepth(body: Buffer, maxDepth: number): boolean {
  const length = body.length
  // Depth d needs at least d opening brackets, so a short body cannot exceed the bound.
  if (length <= maxDepth) return false
  let depth = 0
  for (let i = 0; i < length; i++) {
    const byte = body[i]
    if (byte === QUOTE) {
      let end = i
      for (;;) {
        end = body.indexOf(QUOTE, end + 1)
        if (end === -1) return false
        let backslashes = 0
        while (body[end - 1 - backslashes] === BACKSLASH) backslashes++
        if ((backslashes & 1) === 0) break
      }
      i = end
    } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      if (++depth > maxDepth) return true
    } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      depth--
    }
  }
  return false
}
