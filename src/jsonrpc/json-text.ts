const QUOTE = 0x22
const BACKSLASH = 0x5c
const COMMA = 0x2c
const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d
const OPEN_BRACKET = 0x5b
const CLOSE_BRACKET = 0x5d
const SPACE = 0x20

/** What `checkJsonText` refuses. */
export type JsonTextProblem = 'too_deep' | 'duplicate_member'

/**
 * Finds, in one scan of the bytes before `JSON.parse` sees them, objects and arrays nested deeper
 * than `maxDepth` (a hostile body then costs no parse and no deep object graph) and objects that
 * repeat a member name. RFC 8259 §4 leaves duplicate names to each parser: `JSON.parse` keeps the
 * last, other parsers the first, so the gateway could authorize one tool while the backend runs
 * another. Names are compared after unescaping (`"n\u0061me"` is `"name"`). Every object is
 * checked, not only those the gateway reads, so what is authorized never depends on where the
 * policy looks (the cost is measured in bench/README.md).
 *
 * Strings are jumped over with `indexOf`, natively. The scan does not validate: malformed text is
 * `JSON.parse`'s job, which runs after it, and a name is recognised only in well-formed text.
 */
export function checkJsonText(body: Buffer, maxDepth: number): JsonTextProblem | undefined {
  // One byte per character: V8 scans and slices a one-byte string without crossing into C++.
  const text = body.toString('latin1')
  const length = text.length
  // Per depth: the names seen in the object open there (reused across siblings), or null in an array.
  const names: (Set<string> | null)[] = []
  let depth = 0
  // The last character outside strings that was not white space: a string after `{` or `,` in an
  // object is a member name.
  let last = 0
  let nextBackslash = -1
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i)
    if (code <= SPACE) continue
    if (code === QUOTE) {
      let end = i
      for (;;) {
        end = text.indexOf('"', end + 1)
        if (end === -1) return undefined
        let backslashes = 0
        while (text.charCodeAt(end - 1 - backslashes) === BACKSLASH) backslashes++
        if ((backslashes & 1) === 0) break
      }
      const members = depth === 0 ? null : (names[depth - 1] as Set<string> | null)
      if (members !== null && (last === OPEN_BRACE || last === COMMA)) {
        if (nextBackslash < i) {
          nextBackslash = text.indexOf('\\', i)
          if (nextBackslash === -1) nextBackslash = length
        }
        const name = nextBackslash < end ? unescapedName(body, i, end) : text.slice(i + 1, end)
        if (name === undefined) return undefined
        if (members.has(name)) return 'duplicate_member'
        members.add(name)
      }
      i = end
      last = QUOTE
      continue
    }
    if (code === OPEN_BRACE || code === OPEN_BRACKET) {
      if (++depth > maxDepth) return 'too_deep'
      if (code === OPEN_BRACKET) names[depth - 1] = null
      else {
        let members = names[depth - 1]
        if (members == null) names[depth - 1] = members = new Set()
        else members.clear()
      }
    } else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) {
      depth--
    }
    last = code
  }
  return undefined
}

/**
 * A member name with escapes, decoded and put in the form unescaped names are compared in: the
 * latin1 reading of its UTF-8 bytes. `undefined` when the escapes are invalid (`JSON.parse` refuses
 * the text anyway).
 */
function unescapedName(body: Buffer, open: number, close: number): string | undefined {
  try {
    const decoded = JSON.parse(body.toString('utf8', open, close + 1)) as string
    return Buffer.from(decoded, 'utf8').toString('latin1')
  } catch {
    return undefined
  }
}
