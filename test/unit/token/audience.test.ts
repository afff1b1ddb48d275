import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createAudienceCheck, normalizeAudience } from '../../../src/token/audience.js'

// docs/security.md, audience: compared after lower-casing scheme and host and dropping a default port
// (RFC 3986 §6.2.3); `/mcp` and `/mcp/` differ; only an empty path equals `/`; values that are not
// http(s) URLs compare byte for byte. RFC 8707 §2 forbids a fragment in a resource indicator.

const CANONICAL = 'https://mcp.example.com/mcp'

describe('createAudienceCheck against the canonical URI', () => {
  const check = createAudienceCheck([CANONICAL])
  const rows: { name: string; aud: unknown; ok: boolean }[] = [
    { name: 'exactly equal', aud: CANONICAL, ok: true },
    { name: 'upper-case scheme', aud: 'HTTPS://mcp.example.com/mcp', ok: true },
    { name: 'upper-case host', aud: 'https://MCP.Example.COM/mcp', ok: true },
    { name: 'explicit default port 443', aud: 'https://mcp.example.com:443/mcp', ok: true },
    { name: 'another port', aud: 'https://mcp.example.com:8443/mcp', ok: false },
    { name: 'http instead of https', aud: 'http://mcp.example.com/mcp', ok: false },
    { name: 'trailing slash differs', aud: 'https://mcp.example.com/mcp/', ok: false },
    { name: 'path case differs', aud: 'https://mcp.example.com/MCP', ok: false },
    { name: 'origin only', aud: 'https://mcp.example.com', ok: false },
    { name: 'a query', aud: 'https://mcp.example.com/mcp?x=1', ok: false },
    { name: 'a fragment', aud: 'https://mcp.example.com/mcp#frag', ok: false },
    { name: 'an empty fragment', aud: 'https://mcp.example.com/mcp#', ok: false },
    { name: 'userinfo', aud: 'https://user@mcp.example.com/mcp', ok: false },
    { name: 'another host', aud: 'https://evil.example.com/mcp', ok: false },
    { name: 'a suffix of the host', aud: 'https://mcp.example.com.evil.test/mcp', ok: false },
    { name: 'array containing it (any-of)', aud: ['https://other.example.com', CANONICAL], ok: true },
    { name: 'array containing it in another case', aud: ['api://x', 'HTTPS://MCP.EXAMPLE.COM:443/mcp'], ok: true },
    { name: 'array without it', aud: ['https://other.example.com', 'https://mcp.example.com/mcp/'], ok: false },
    { name: 'empty array', aud: [], ok: false },
    { name: 'array of non-strings', aud: [1, null, { aud: CANONICAL }], ok: false },
    { name: 'missing', aud: undefined, ok: false },
    { name: 'a number', aud: 443, ok: false },
    { name: 'an object', aud: { aud: CANONICAL }, ok: false },
    { name: 'empty string', aud: '', ok: false },
  ]
  for (const row of rows) {
    test(`${row.name}: ${JSON.stringify(row.aud)}`, () => {
      assert.equal(check(row.aud), row.ok)
    })
  }
})

describe('createAudienceCheck: empty path vs /', () => {
  test('a canonical URI with no path equals one with /', () => {
    assert.equal(createAudienceCheck(['https://mcp.example.com'])('https://mcp.example.com/'), true)
    assert.equal(createAudienceCheck(['https://mcp.example.com/'])('https://mcp.example.com'), true)
  })
  test('but / does not equal a longer path', () => {
    assert.equal(createAudienceCheck(['https://mcp.example.com/'])('https://mcp.example.com/mcp'), false)
  })
  test('http on loopback: default port 80 dropped, other ports kept', () => {
    const check = createAudienceCheck(['http://127.0.0.1:8080/mcp'])
    assert.equal(check('http://127.0.0.1:8080/mcp'), true)
    assert.equal(check('http://127.0.0.1/mcp'), false)
    assert.equal(createAudienceCheck(['http://localhost/mcp'])('http://LOCALHOST:80/mcp'), true)
  })
})

describe('createAudienceCheck: non-URL audiences compare exactly', () => {
  const check = createAudienceCheck([CANONICAL, 'api://my-app', 'urn:example:mcp', 'my-client-id'])
  const rows: { aud: string; ok: boolean }[] = [
    { aud: 'api://my-app', ok: true },
    { aud: 'API://my-app', ok: false },
    { aud: 'api://MY-APP', ok: false },
    { aud: 'api://my-app/', ok: false },
    { aud: 'urn:example:mcp', ok: true },
    { aud: 'URN:example:mcp', ok: false },
    { aud: 'my-client-id', ok: true },
    { aud: 'My-Client-Id', ok: false },
    { aud: ' my-client-id', ok: false },
  ]
  for (const row of rows) {
    test(JSON.stringify(row.aud), () => {
      assert.equal(check(row.aud), row.ok)
    })
  }
})

describe('createAudienceCheck: a configured audience with a fragment', () => {
  test('matches only itself, byte for byte', () => {
    const check = createAudienceCheck(['https://mcp.example.com/mcp#a'])
    assert.equal(check('https://mcp.example.com/mcp#a'), true)
    assert.equal(check('HTTPS://mcp.example.com/mcp#a'), false)
    assert.equal(check('https://mcp.example.com/mcp'), false)
  })
})

describe('normalizeAudience', () => {
  const rows: { input: string; output: string }[] = [
    { input: 'HTTPS://MCP.EXAMPLE.COM:443/mcp', output: 'https://mcp.example.com/mcp' },
    { input: 'https://mcp.example.com', output: 'https://mcp.example.com/' },
    { input: 'http://127.0.0.1:80/mcp/', output: 'http://127.0.0.1/mcp/' },
    { input: 'https://mcp.example.com/mcp#f', output: 'https://mcp.example.com/mcp#f' },
    { input: 'api://My-App', output: 'api://My-App' },
    { input: 'https://', output: 'https://' },
    { input: 'not a url', output: 'not a url' },
  ]
  for (const row of rows) {
    test(`${row.input} -> ${row.output}`, () => {
      assert.equal(normalizeAudience(row.input), row.output)
    })
  }
})
