import { test } from 'node:test'
import assert from 'node:assert/strict'
import { evaluateChallenge } from '../../../src/probe/challenge-step.js'

const META = 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp'

test('the gateway challenge passes and tells where the client goes', () => {
  const { step, resourceMetadata, scope } = evaluateChallenge([`Bearer resource_metadata="${META}", scope="mcp:tools"`])
  assert.equal(step.status, 'ok')
  assert.equal(resourceMetadata, META)
  assert.equal(scope, 'mcp:tools')
  assert.equal(step.client, `fetches the resource metadata at ${META} and will ask for scope "mcp:tools"`)
})

const cases: { name: string; values: string[]; status: string; saw: RegExp }[] = [
  { name: 'no header on the 401', values: [], status: 'fail', saw: /no WWW-Authenticate header/ },
  { name: 'no Bearer challenge', values: ['Basic realm="x"'], status: 'fail', saw: /no Bearer challenge \(schemes: Basic\)/ },
  { name: 'Bearer after Basic (the SDK reads only the first)', values: ['Basic realm="x"', `Bearer resource_metadata="${META}", scope="a"`], status: 'fail', saw: /first challenge is not Bearer/ },
  { name: 'two header lines', values: [`Bearer resource_metadata="${META}", scope="a"`, 'Bearer scope="a"'], status: 'warn', saw: /2 WWW-Authenticate headers/ },
  {
    name: 'Bearer then DPoP, one field each (RFC 9449 §7.1): not a warning',
    values: [`Bearer resource_metadata="${META}", scope="a"`, `DPoP resource_metadata="${META}", scope="a", algs="ES256"`],
    status: 'ok',
    saw: /DPoP offered too \(RFC 9449 §7\.1\), algs: "ES256"/,
  },
  { name: 'Bearer, DPoP and Basic', values: [`Bearer resource_metadata="${META}", scope="a"`, 'DPoP algs="ES256"', 'Basic realm="x"'], status: 'warn', saw: /3 challenges/ },
  { name: 'no resource_metadata', values: ['Bearer scope="a"'], status: 'warn', saw: /no resource_metadata/ },
  { name: 'relative resource_metadata', values: ['Bearer resource_metadata="/meta", scope="a"'], status: 'fail', saw: /not an absolute URL/ },
  { name: 'no scope', values: [`Bearer resource_metadata="${META}"`], status: 'warn', saw: /no scope/ },
  { name: 'an error code without credentials (RFC 6750 §3.1)', values: [`Bearer error="invalid_token", resource_metadata="${META}", scope="a"`], status: 'warn', saw: /SHOULD NOT carry an error code/ },
  {
    name: 'error_description before scope misleads the SDK',
    values: [`Bearer resource_metadata="${META}", error_description="need scope=admin", scope="a"`],
    status: 'fail',
    saw: /the MCP SDK client reads .* scope "admin"/,
  },
]
for (const c of cases) {
  test(c.name, () => {
    const { step } = evaluateChallenge(c.values)
    assert.equal(step.status, c.status, step.saw.join('\n'))
    assert.match(step.saw.join('\n'), c.saw)
  })
}
