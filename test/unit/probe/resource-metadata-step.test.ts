import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { evaluateResourceMatch, resourceAllowed, validateDocument, wellKnownUrls } from '../../../src/probe/resource-metadata-step.js'

describe('wellKnownUrls (as the SDK builds them; RFC 9728 §3.1)', () => {
  const cases = [
    { url: 'https://h/mcp', pathAware: 'https://h/.well-known/oauth-protected-resource/mcp', root: 'https://h/.well-known/oauth-protected-resource' },
    { url: 'https://h/mcp/', pathAware: 'https://h/.well-known/oauth-protected-resource/mcp', root: 'https://h/.well-known/oauth-protected-resource' },
    { url: 'https://h/a/mcp?tenant=1', pathAware: 'https://h/.well-known/oauth-protected-resource/a/mcp?tenant=1', root: 'https://h/.well-known/oauth-protected-resource' },
    { url: 'https://h/', pathAware: 'https://h/.well-known/oauth-protected-resource', root: undefined },
  ]
  for (const c of cases) test(c.url, () => assert.deepEqual(wellKnownUrls(c.url), { pathAware: c.pathAware, root: c.root }))
})

describe('resourceAllowed (the SDK checkResourceAllowed rule)', () => {
  const cases: [string, string, boolean][] = [
    ['https://h/mcp', 'https://h/mcp', true],
    ['https://h/mcp', 'https://h/', true],
    ['https://h/mcp/x', 'https://h/mcp', true],
    ['https://h/mcp', 'https://h/mcp/', false],
    ['https://h/mcpx', 'https://h/mcp', false],
    ['http://127.0.0.1/mcp', 'https://mcp.example.com/mcp', false],
    ['https://h:8443/mcp', 'https://h/mcp', false],
  ]
  for (const [server, resource, expected] of cases) test(`${server} vs ${resource}`, () => assert.equal(resourceAllowed(server, resource), expected))
})

test('evaluateResourceMatch: equal ok, prefix warn, mismatch fail with the SDK message', () => {
  assert.equal(evaluateResourceMatch('https://h/mcp', 'https://h/mcp').status, 'ok')
  assert.equal(evaluateResourceMatch('https://h/mcp', 'https://h/').status, 'warn')
  const mismatch = evaluateResourceMatch('https://h/mcp', 'https://h/mcp/')
  assert.equal(mismatch.status, 'fail')
  assert.equal(mismatch.client, 'stops: "Protected resource https://h/mcp/ does not match expected https://h/mcp"')
})

test('validateDocument (RFC 9728 §2, MCP: at least one authorization server)', () => {
  assert.equal(validateDocument('{"resource":"https://h/mcp","authorization_servers":["https://as"]}'), undefined)
  assert.equal(validateDocument('<html>'), 'not JSON')
  assert.equal(validateDocument('[]'), 'not a JSON object')
  assert.equal(validateDocument('{"authorization_servers":["https://as"]}'), 'no "resource" string')
  assert.match(validateDocument('{"resource":"r","authorization_servers":[]}') ?? '', /authorization_servers/)
  assert.match(validateDocument('{"resource":"r","authorization_servers":["a"],"scopes_supported":"a b"}') ?? '', /scopes_supported/)
})
