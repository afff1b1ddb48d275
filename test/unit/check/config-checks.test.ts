import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import {
  checkAudienceBinding,
  checkCanonicalUri,
  checkLogging,
  checkNoPassthrough,
  checkScopeConsistency,
  checkSecretNotInEnvironment,
  checkTransport,
} from '../../../src/check/config-checks.js'
import type { Config } from '../../../src/config/normalize.js'

describe('checkCanonicalUri (OAuth 2.1 §1.5, MCP §Canonical Server URI)', () => {
  const cases: { uri: string; status: string; match: RegExp }[] = [
    { uri: 'https://mcp.example.com/mcp', status: 'ok', match: /https URL in canonical form/ },
    { uri: 'https://mcp.example.com', status: 'ok', match: /canonical form/ },
    { uri: 'http://127.0.0.1:8080/mcp', status: 'warn', match: /loopback development only/ },
    { uri: 'http://mcp.example.com/mcp', status: 'fail', match: /plain http on a non-loopback host/ },
    { uri: 'https://mcp.example.com/mcp/', status: 'warn', match: /ends with "\/"/ },
    { uri: 'HTTPS://MCP.example.com/mcp', status: 'warn', match: /not lowercase/ },
    { uri: 'not a url', status: 'fail', match: /not an absolute URL/ },
    { uri: 'ftp://mcp.example.com/mcp', status: 'fail', match: /not an http\(s\) URL/ },
  ]
  for (const c of cases) {
    test(`${c.uri} -> ${c.status}`, () => {
      const result = checkCanonicalUri(c.uri)
      assert.equal(result.status, c.status)
      assert.match(result.message, c.match)
      if (result.status !== 'ok') assert.ok((result.fix ?? '').length > 0, 'every finding carries a fix')
    })
  }
})

describe('checkTransport (plaintext only inside one trust boundary)', () => {
  const base = { listen: { host: '0.0.0.0', port: 8080 }, tls: { enabled: false, minVersion: '1.2' } } as unknown as Config
  test('TLS on is ok', () => {
    const result = checkTransport({ ...base, tls: { ...base.tls, enabled: true } } as Config)
    assert.equal(result.status, 'ok')
    assert.match(result.message, /HTTPS on 0\.0\.0\.0:8080, TLS 1\.2 minimum/)
  })
  test('plain HTTP on loopback is ok', () => {
    assert.equal(checkTransport({ ...base, listen: { host: '127.0.0.1', port: 8080 } } as Config).status, 'ok')
  })
  test('plain HTTP on every interface warns with the load-balancer advice', () => {
    const result = checkTransport(base)
    assert.equal(result.status, 'warn')
    assert.match(result.fix ?? '', /trust boundary/)
  })
})

describe('checkAudienceBinding (RFC 8707, MCP §Access Token Privilege Restriction)', () => {
  const config = (audiences: string[]) =>
    ({
      resource: { canonicalUri: 'https://mcp.example.com/mcp' },
      authorizationServers: [{ issuer: 'https://as.example.com', audiences }],
    }) as unknown as Config
  test('the canonical URI is always required', () => {
    const result = checkAudienceBinding(config([]))
    assert.equal(result.status, 'ok')
    assert.match(result.message, /aud "https:\/\/mcp\.example\.com\/mcp" \(always enforced/)
  })
  test('extra audiences are listed with their issuer', () => {
    assert.match(checkAudienceBinding(config(['api://app'])).message, /also accepted: api:\/\/app \(https:\/\/as\.example\.com\)/)
  })
  test('a "*" audience fails: it is compared literally', () => {
    assert.equal(checkAudienceBinding(config(['*'])).status, 'fail')
  })
})

test('checkNoPassthrough runs the forwarder header code and finds no credentials', () => {
  const result = checkNoPassthrough()
  assert.equal(result.status, 'ok')
  assert.match(result.message, /^structural: the proxy drops Authorization/)
})

test('checkLogging: structural ok at info, a warning at debug and trace', () => {
  assert.equal(checkLogging({ log: { level: 'info' } } as Config).status, 'ok')
  for (const level of ['debug', 'trace'] as const) {
    const result = checkLogging({ log: { level } } as Config)
    assert.equal(result.status, 'warn')
    assert.match(result.fix ?? '', /MCP_LOG_LEVEL to info/)
  }
})

describe('checkScopeConsistency (MCP §Scope Selection Strategy)', () => {
  test('challenge scopes advertised: ok', () => {
    assert.equal(checkScopeConsistency(['mcp:read', 'mcp:write'], ['mcp:read']).status, 'ok')
  })
  test('a challenged scope missing from scopes_supported fails and names it', () => {
    const result = checkScopeConsistency(['mcp:read'], ['mcp:read', 'mcp:admin'])
    assert.equal(result.status, 'fail')
    assert.match(result.message, /mcp:admin is challenged but not advertised/)
    assert.match(result.fix ?? '', /MCP_SCOPES_SUPPORTED/)
  })
  test('no challenge scope warns; no scopes at all warns', () => {
    assert.equal(checkScopeConsistency(['mcp:read'], []).status, 'warn')
    assert.match(checkScopeConsistency([], []).message, /no scopes configured/)
  })
})

test('checkSecretNotInEnvironment fails on MCP_CLIENT_SECRET without printing it', () => {
  assert.equal(checkSecretNotInEnvironment({}), undefined)
  assert.equal(checkSecretNotInEnvironment({ MCP_CLIENT_SECRET: '' }), undefined)
  const result = checkSecretNotInEnvironment({ MCP_CLIENT_SECRET: 's3cr3t-value' })
  assert.equal(result?.status, 'fail')
  assert.ok(!JSON.stringify(result).includes('s3cr3t-value'))
})
