import { test } from 'node:test'
import assert from 'node:assert/strict'
import { revocationLine } from '../../../src/observability/audit.js'
import { createRevocations, revocationId, revocationKind } from '../../../src/revocation/revocations.js'
import { authFailuresSchema } from '../../../src/lockout/schema.js'
import type { Principal } from '../../../src/token/principal.js'
import { TokenCache } from '../../../src/common/token-cache.js'

const principal = (claims: Record<string, unknown> = {}): Principal => ({
  issuer: 'https://as.example',
  subject: 'alice@example.com',
  clientId: 'app-1',
  scopes: new Set(),
  expiresAt: Math.floor(Date.now() / 1000) + 600,
  claims: { jti: 'j-1', ...claims },
})

test('revocation ids are the kind and a hash: no claim value in them', () => {
  const ids = [
    revocationId('jti', 'j-1'),
    revocationId('sub', { iss: 'https://as.example', sub: 'alice@example.com' }),
    revocationId('client_id', 'app-1'),
    revocationId('token', TokenCache.key('secret-token')),
  ]
  assert.deepEqual(ids.map(revocationKind), ['jti', 'sub', 'client_id', 'token'])
  for (const id of ids) for (const value of ['j-1', 'alice', 'app-1', 'secret-token']) assert.ok(!id.includes(value), id)
  // The subject is bound to its issuer.
  assert.notEqual(revocationId('sub', { iss: 'https://other.example', sub: 'alice@example.com' }), ids[1])
})

test('check: each kind refuses the token it names, and nothing else; ended revocations hold no more', async () => {
  for (const [id, other] of [
    [revocationId('jti', 'j-1'), principal({ jti: 'j-2' })],
    [revocationId('sub', { iss: 'https://as.example', sub: 'alice@example.com' }), { ...principal(), subject: 'bob' }],
    [revocationId('client_id', 'app-1'), { ...principal(), clientId: 'app-2' }],
    [revocationId('token', TokenCache.key('tok-a')), principal()],
  ] as const) {
    const revocations = createRevocations()
    assert.doesNotThrow(() => revocations.check(principal(), 'tok-a'))
    await revocations.set.add(id, Date.now() + 60_000)
    assert.throws(() => revocations.check(principal(), 'tok-a'), { reason: 'revoked', status: 401, description: 'The token has been revoked' })
    const otherToken = id.startsWith('token:') ? 'tok-b' : 'tok-a'
    assert.doesNotThrow(() => revocations.check(other, otherToken), id)
    await revocations.close()
  }
  const ended = createRevocations()
  await ended.set.add(revocationId('jti', 'j-1'), Date.now() - 1)
  assert.doesNotThrow(() => ended.check(principal(), 'tok'))
})

test('watch: an open stream hears the revocation that names it; onRevoked hears a matcher for the caches', async () => {
  const revocations = createRevocations()
  let ended = 0
  const unwatch = revocations.watch(principal(), 'tok', () => ended++)
  const purged: boolean[] = []
  revocations.onRevoked((matches) => purged.push(matches(principal(), TokenCache.key('tok')), matches(principal({ jti: 'x' }), 'h')))
  const turn = () => new Promise((resolve) => setImmediate(resolve))
  await revocations.set.add(revocationId('jti', 'other'), Date.now() + 1000)
  await turn()
  assert.equal(ended, 0)
  await revocations.set.add(revocationId('jti', 'j-1'), Date.now() + 1000)
  // The stream hears it at once; the caches in the next turn, in one pass for all that arrived together.
  assert.equal(ended, 1)
  await turn()
  assert.deepEqual(purged, [false, false, true, false])
  unwatch()
  await revocations.set.add(revocationId('client_id', 'app-1'), Date.now() + 1000)
  assert.equal(ended, 1)
})

test('the audit record of a revocation holds the id and who, never the claim', () => {
  const line = revocationLine({ action: 'revoke', id: revocationId('jti', 'j-1'), kind: 'jti', until: Date.UTC(2030, 0, 1), by: '10.0.0.9', shared: true })
  const record = JSON.parse(line) as Record<string, unknown>
  assert.equal(record.audit, 'admin.revocation')
  assert.equal(record.action, 'revoke')
  assert.equal(record.kind, 'jti')
  assert.equal(record.until, '2030-01-01T00:00:00.000Z')
  assert.equal(record.by, '10.0.0.9')
  assert.equal(record.shared, true)
  assert.ok(!line.includes('j-1'))
})

test('MCP_AUTH_FAILURE_LIMIT: failures per period', () => {
  assert.deepEqual(authFailuresSchema.parse({ limit: '5/5m' }), { limit: { failures: 5, periodMs: 300_000 }, block: 900_000 })
  assert.deepEqual(authFailuresSchema.parse({ limit: '10/1h', block: '30s' }).limit, { failures: 10, periodMs: 3_600_000 })
  for (const bad of ['5', '0/5m', '5/0s', '5/500ms', 'x/5m', '5/5x']) assert.equal(authFailuresSchema.safeParse({ limit: bad }).success, false, bad)
})
