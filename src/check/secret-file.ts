import { stat } from 'node:fs/promises'
import { fail, ok, warn, type CheckResult, type CheckStatus } from './result.js'

export interface FileFacts {
  readonly path: string
  /** `st_mode` from stat(2); `undefined` when the file could not be read. */
  readonly mode: number | undefined
  readonly isFile: boolean
  readonly size: number
  /** The errno code when stat failed (`ENOENT`, `EACCES`). */
  readonly error?: string | undefined
}

/**
 * Seed 000: the secret lives only in a file, mode 600. Any group or other permission bit is a
 * finding: a readable secret lets a neighbour introspect as the gateway. Pure, so tests feed it
 * modes directly; `checkSecretFile` does the stat.
 *
 * @param severity what a loose mode is: `fail` for a client secret, `warn` for a TLS key that the
 *   seed does not name.
 */
export function secretFileVerdict(
  id: string,
  facts: FileFacts,
  what: string,
  severity: Exclude<CheckStatus, 'ok'> = 'fail',
): CheckResult {
  const { path } = facts
  if (facts.mode === undefined) {
    return fail(id, `${what} ${path} cannot be read (${facts.error ?? 'error'})`, `create it, readable by the gateway's user only: chmod 600 ${path}`, path)
  }
  if (!facts.isFile) return fail(id, `${what} ${path} is not a regular file`, `point the setting at the file that holds the ${what}`, path)
  if (facts.size === 0) return fail(id, `${what} ${path} is empty`, `write the ${what} into ${path}`, path)
  const permissions = facts.mode & 0o777
  const octal = permissions.toString(8).padStart(3, '0')
  if ((permissions & 0o077) !== 0) {
    const who = [(permissions & 0o070) !== 0 ? 'group' : '', (permissions & 0o007) !== 0 ? 'others' : '']
      .filter((w) => w !== '')
      .join(' and ')
    const message = `${what} ${path} has mode ${octal}: ${who} can access it`
    const fix = `chmod 600 ${path} (owner read/write only; mount it read-only in a container)`
    return severity === 'fail' ? fail(id, message, fix, path) : warn(id, message, fix, path)
  }
  return ok(id, `${what} ${path} has mode ${octal} (owner only)`, path)
}

/** Stats `path` and judges it with `secretFileVerdict`. */
export async function checkSecretFile(
  id: string,
  path: string,
  what: string,
  severity: Exclude<CheckStatus, 'ok'> = 'fail',
): Promise<CheckResult> {
  try {
    const s = await stat(path)
    return secretFileVerdict(id, { path, mode: s.mode, isFile: s.isFile(), size: s.size }, what, severity)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    return secretFileVerdict(id, { path, mode: undefined, isFile: false, size: 0, error: code }, what, severity)
  }
}
