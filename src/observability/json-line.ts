/**
 * Pieces of the hand-built JSON lines (access line, audit record): the same bytes
 * `JSON.stringify` gives for the same object, without building the object. Numbers are written
 * as they are; strings as `JSON.stringify` writes them.
 */

/**
 * What `JSON.stringify` may escape in a string (ECMA-262 QuoteJSONString): `"`, `\`, U+0000-U+001F
 * and lone surrogates (any surrogate sends the string to `JSON.stringify`, which keeps pairs and
 * escapes lone ones). A string with none of them is written between quotes as it is: one regular
 * expression test is cheaper than the call.
 */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/

/** `"value"`, exactly as `JSON.stringify(value)`. */
export function jsonString(value: string): string {
  return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`
}

/**
 * The quoted form of values that come back request after request (the path, MCP method, tool,
 * protocol version, sub, client_id, issuer): a map lookup costs a third of the escape test on
 * this machine. A pure function's memo, bounded in entries and in the length of what it keeps;
 * it holds only values that are written to the lines anyway.
 */
const quoted = new Map<string, string>()
const MEMO_ENTRIES = 512
const MEMO_MAX_LENGTH = 128

function quote(value: string): string {
  let json = quoted.get(value)
  if (json === undefined) {
    json = jsonString(value)
    if (value.length <= MEMO_MAX_LENGTH) {
      if (quoted.size >= MEMO_ENTRIES) quoted.clear()
      quoted.set(value, json)
    }
  }
  return json
}

/**
 * `,"name":"value"` for a string member, nothing for an absent one (as `JSON.stringify` omits
 * it). `unique`: a value never seen twice (a request id), not worth remembering.
 */
export function stringMember(name: string, value: string | undefined, unique = false): string {
  if (value === undefined) return ''
  return `,"${name}":${unique ? jsonString(value) : quote(value)}`
}

/** `,"name":12.5` for a number member (`null` when not finite, as `JSON.stringify` writes it). */
export function numberMember(name: string, value: number | undefined): string {
  return value === undefined ? '' : `,"${name}":${Number.isFinite(value) ? value : 'null'}`
}

/**
 * `,"name":x` with x = `Math.round(ms * 100) / 100` as `JSON.stringify` writes it, without the
 * double-to-string conversion (several times the cost of the rest of a member): the nearest
 * double to a number of hundredths prints as exactly those digits, so they are written from the
 * integer. Outside the plain range (negative, huge, not finite) the number itself is written.
 */
export function hundredthsMember(name: string, ms: number | undefined): string {
  if (ms === undefined) return ''
  const hundredths = Math.round(ms * 100)
  if (!(hundredths >= 0 && hundredths < 1e15)) return numberMember(name, hundredths / 100)
  const frac = hundredths % 100
  const int = (hundredths - frac) / 100
  if (frac === 0) return `,"${name}":${int}`
  if (frac % 10 === 0) return `,"${name}":${int}.${frac / 10}`
  return `,"${name}":${int}.${frac < 10 ? '0' : ''}${frac}`
}

const MILLIS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'))
/** Last year whose ISO form has four digits (`toISOString` writes `+010000-...` after it). */
const LAST_SHORT_YEAR = Date.UTC(9999, 11, 31, 23, 59, 59, 999)
let cachedSecond = Number.NaN
let cachedPrefix = ''
let cachedMs = Number.NaN
let cachedIso = ''

/**
 * `new Date(ms).toISOString()`, with the part up to the seconds built once per second and the
 * whole kept for the millisecond (the access line and the audit record of a request, and other
 * requests ending in the same millisecond, share it): a busy gateway stamps thousands of lines a
 * second, and `toISOString` was a visible share of a line. A time that is not one is taken as
 * now: a log line never throws.
 */
export function isoTime(ms: number): string {
  if (ms === cachedMs) return cachedIso
  if (!(ms >= 0 && ms <= LAST_SHORT_YEAR && Number.isInteger(ms))) {
    const date = new Date(ms)
    return (Number.isNaN(date.getTime()) ? new Date() : date).toISOString()
  }
  const millis = ms % 1000
  const second = ms - millis
  if (second !== cachedSecond) {
    cachedSecond = second
    cachedPrefix = new Date(second).toISOString().slice(0, 20)
  }
  cachedMs = ms
  cachedIso = `${cachedPrefix}${MILLIS[millis]}Z`
  return cachedIso
}
