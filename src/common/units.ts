import { z } from 'zod'

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/
const SIZE = /^(\d+)([kmg]b?|b)?$/i

/**
 * A duration as nginx writes it (`500ms`, `60s`, `5m`, `1h`; a bare number is seconds), read once
 * into milliseconds.
 */
export const duration = z
  .union([z.number().nonnegative(), z.string().trim()])
  .transform((value, ctx) => {
    if (typeof value === 'number') return Math.round(value * 1000)
    const match = DURATION.exec(value)
    if (match === null) {
      ctx.addIssue({ code: 'custom', message: `expected a duration like 500ms, 30s, 5m or 1h (got "${value}")` })
      return z.NEVER
    }
    const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? 's'] as number
    return Math.round(Number(match[1]) * factor)
  })

/** A size in bytes (`512k`, `1m`, `1mb`; a bare number is bytes). */
export const size = z
  .union([z.number().int().positive(), z.string().trim()])
  .transform((value, ctx) => {
    if (typeof value === 'number') return value
    const match = SIZE.exec(value)
    if (match === null) {
      ctx.addIssue({ code: 'custom', message: `expected a size like 65536, 512k or 1m (got "${value}")` })
      return z.NEVER
    }
    const unit = (match[2] ?? 'b').toLowerCase()[0] as 'b' | 'k' | 'm' | 'g'
    return Number(match[1]) * { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[unit]
  })

/** `on`/`off` (the anchor's spelling), also `true`/`false`, for flags read from the environment. */
export const onOff = z.union([z.boolean(), z.string()]).transform((value, ctx) => {
  if (typeof value === 'boolean') return value
  // One transform rather than a union of two schemas: a union failure reads only "Invalid input".
  if (!['on', 'off', 'true', 'false', ''].includes(value)) {
    ctx.addIssue({ code: 'custom', message: `expected 'on' or 'off' (got "${value}")` })
    return z.NEVER
  }
  return value === 'on' || value === 'true'
})

/** A comma- or space-separated list from the environment, or a YAML list. Empty items dropped. */
export const list = z
  .union([z.array(z.string()), z.string()])
  .transform((v) => (typeof v === 'string' ? v.split(/[\s,]+/) : v).map((s) => s.trim()).filter((s) => s !== ''))

/** A TCP port; a value that is not a whole number from 0 to 65535 is named as such. */
export const port = z.coerce.number({ message: 'expected a port number from 0 to 65535' }).int().min(0).max(65535)

/** An absolute http(s) URL; the message says what was expected rather than "Invalid URL". */
export const httpUrl = z.url({ protocol: /^https?$/, message: 'expected an absolute http(s) URL like https://host/path' })
