import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { checkSecretFile, secretFileVerdict } from '../../../src/check/secret-file.js'

describe('secretFileVerdict (the secret only in a file, mode 600)', () => {
  const facts = (mode: number) => ({ path: '/run/secrets/rs.secret', mode: 0o100000 | mode, isFile: true, size: 12 })
  const cases: { mode: number; status: string; match: RegExp }[] = [
    { mode: 0o600, status: 'ok', match: /mode 600 \(owner only\)/ },
    { mode: 0o400, status: 'ok', match: /mode 400/ },
    { mode: 0o640, status: 'fail', match: /mode 640: group can access it/ },
    { mode: 0o604, status: 'fail', match: /mode 604: others can access it/ },
    { mode: 0o644, status: 'fail', match: /mode 644: group and others can access it/ },
    { mode: 0o777, status: 'fail', match: /mode 777/ },
  ]
  for (const c of cases) {
    test(`mode ${c.mode.toString(8)} -> ${c.status}`, () => {
      const result = secretFileVerdict('secret', facts(c.mode), 'client secret file')
      assert.equal(result.status, c.status)
      assert.match(result.message, c.match)
      if (c.status === 'fail') assert.equal(result.fix, 'chmod 600 /run/secrets/rs.secret (owner read/write only; mount it read-only in a container)')
    })
  }
  test('a loose mode is a warning when the caller says so (TLS keys)', () => {
    assert.equal(secretFileVerdict('tls', facts(0o644), 'TLS private key', 'warn').status, 'warn')
  })
  test('missing, empty and non-regular files fail', () => {
    assert.match(secretFileVerdict('s', { path: '/x', mode: undefined, isFile: false, size: 0, error: 'ENOENT' }, 'secret').message, /cannot be read \(ENOENT\)/)
    assert.match(secretFileVerdict('s', { path: '/x', mode: 0o600, isFile: true, size: 0 }, 'secret').message, /is empty/)
    assert.match(secretFileVerdict('s', { path: '/x', mode: 0o40700, isFile: false, size: 0 }, 'secret').message, /not a regular file/)
  })
})

describe('checkSecretFile on real files', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'secret-file-'))
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  test('a world-readable file fails; after chmod 600 it passes', async () => {
    const file = join(dir, 'rs.secret')
    await writeFile(file, 'secret\n')
    await chmod(file, 0o644)
    const loose = await checkSecretFile('secret', file, 'client secret file')
    assert.equal(loose.status, 'fail')
    assert.equal(loose.subject, file)
    await chmod(file, 0o600)
    assert.equal((await checkSecretFile('secret', file, 'client secret file')).status, 'ok')
  })
  test('a missing file and a directory fail', async () => {
    assert.match((await checkSecretFile('secret', join(dir, 'nope'), 'client secret file')).message, /ENOENT/)
    const sub = join(dir, 'sub')
    await mkdir(sub)
    assert.match((await checkSecretFile('secret', sub, 'client secret file')).message, /not a regular file/)
  })
})
