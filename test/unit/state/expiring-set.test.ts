import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createExpiringSet } from '../../../src/state/expiring-set.js'

// A full set must not drop a live member for being the oldest added: for revocations that would
// quietly lift a revocation still in force while ended ones stay.

test('past maxMembers, ended members go first; then the one ending soonest, never the newest', async () => {
  const now = Date.now()
  const set = createExpiringSet({ name: 'test', maxMembers: 3 })
  try {
    await set.add('long-lived', now + 3_600_000)
    await set.add('ended', now - 1)
    await set.add('short', now + 60_000)
    await set.add('newest', now + 1_800_000)
    assert.deepEqual(set.entries(now).map((e) => e.member), ['short', 'newest', 'long-lived'], 'the ended member made room')
    await set.add('fifth', now + 7_200_000)
    assert.equal(set.until('long-lived', now), now + 3_600_000, 'the member added first is kept: it is live')
    assert.equal(set.until('short', now), undefined, 'the live member ending soonest went')
    assert.equal(set.until('fifth', now), now + 7_200_000)
  } finally {
    await set.close()
  }
})
