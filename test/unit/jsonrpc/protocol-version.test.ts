import { test } from 'node:test'
import assert from 'node:assert/strict'
import { featuresOf, isProtocolVersion, PROTOCOL_FEATURES, PROTOCOL_VERSIONS } from '../../../src/jsonrpc/protocol-version.js'

test('every known version has a feature row', () => {
  assert.deepEqual(Object.keys(PROTOCOL_FEATURES).sort(), [...PROTOCOL_VERSIONS].sort())
})

test('isProtocolVersion', () => {
  for (const v of PROTOCOL_VERSIONS) assert.equal(isProtocolVersion(v), true)
  for (const v of ['2024-11-05', '', 'constructor', 42, undefined]) assert.equal(isProtocolVersion(v), false)
})

// docs/policy.md, the version table
const table: [keyof ReturnType<typeof featuresOf>, boolean, boolean, boolean, boolean][] = [
  // feature, 2025-03-26, 2025-06-18, 2025-11-25, 2026-07-28
  ['batches', true, false, false, false],
  ['clientResponses', true, true, true, false],
  ['initialize', true, true, true, false],
  ['sessions', true, true, true, false],
  ['getStream', true, true, true, false],
  ['deleteSession', true, true, true, false],
  ['protocolVersionHeader', false, true, true, true],
  ['versionInMeta', false, false, false, true],
  ['mirroredHeaders', false, false, false, true],
  ['cacheScope', false, false, false, true],
  ['resultType', false, false, false, true],
  ['disconnectCancels', false, false, false, true],
]

for (const [feature, ...values] of table) {
  test(`feature ${feature}`, () => {
    assert.deepEqual(
      PROTOCOL_VERSIONS.map((v) => featuresOf(v)[feature]),
      values,
    )
  })
}

test('Mcp-Name methods of 2026-07-28', () => {
  const modern = featuresOf('2026-07-28')
  assert.deepEqual([...modern.requiredNameHeader], [['tools/call', 'name'], ['prompts/get', 'name'], ['resources/read', 'uri']])
  assert.equal(featuresOf('2025-11-25').requiredNameHeader.size, 0)
})
