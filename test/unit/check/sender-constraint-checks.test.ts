import { test } from 'node:test'
import assert from 'node:assert/strict'
import { checkSenderConstraint } from '../../../src/check/sender-constraint-checks.js'

const AS = 'https://as.example.com'
const base = { dpop: 'optional', dpopAlgorithms: ['ES256', 'EdDSA'], mtls: 'off' } as const

const rows: { name: string; settings: Partial<typeof base> | Record<string, unknown>; metadata: Record<string, unknown> | undefined; expected: [string, string][] }[] = [
  { name: 'nothing required: nothing reported', settings: {}, metadata: { issuer: AS }, expected: [] },
  { name: 'no metadata: nothing to compare', settings: { dpop: 'required' }, metadata: undefined, expected: [] },
  { name: 'DPoP required and advertised', settings: { dpop: 'required' }, metadata: { issuer: AS, dpop_signing_alg_values_supported: ['ES256'] }, expected: [['as.dpop', 'ok']] },
  { name: 'DPoP required, not advertised', settings: { dpop: 'required' }, metadata: { issuer: AS }, expected: [['as.dpop', 'warn']] },
  { name: 'DPoP required, no shared algorithm', settings: { dpop: 'required' }, metadata: { issuer: AS, dpop_signing_alg_values_supported: ['PS512'] }, expected: [['as.dpop', 'warn']] },
  { name: 'mTLS required and advertised', settings: { mtls: 'required' }, metadata: { issuer: AS, tls_client_certificate_bound_access_tokens: true }, expected: [['as.mtls', 'ok']] },
  { name: 'mTLS required, not advertised', settings: { mtls: 'required' }, metadata: { issuer: AS }, expected: [['as.mtls', 'warn']] },
]
for (const row of rows) {
  test(row.name, () => {
    const results = checkSenderConstraint({ ...base, ...row.settings } as never, row.metadata as never, AS)
    assert.deepEqual(results.map((r) => [r.id, r.status]), row.expected)
  })
}
