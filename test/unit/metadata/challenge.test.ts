import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  ForbiddenOrigin,
  InsufficientScope,
  InvalidRequest,
  InvalidDpopProof,
  InvalidToken,
  MissingCredentials,
  UseDpopNonce,
  type GatewayError,
} from '../../../src/errors.js'
import { buildChallenge, buildChallenges, quote, relayScopeChallenge } from '../../../src/metadata/challenge.js'
import type { AuthScheme } from '../../../src/errors.js'

// docs/errors.md and RFC 6750 §3 (https://www.rfc-editor.org/rfc/rfc6750#section-3).
const META = 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp'

describe('buildChallenge', () => {
  const rows: { name: string; error: GatewayError; scope: string[]; meta?: string; expected: string }[] = [
    {
      name: 'no credentials: no error, resource_metadata then scope (RFC 6750 §3.1)',
      error: new MissingCredentials(),
      scope: ['mcp:read'],
      expected: `Bearer resource_metadata="${META}", scope="mcp:read"`,
    },
    {
      name: 'no credentials, several scopes space-separated',
      error: new MissingCredentials(),
      scope: ['mcp:read', 'mcp:write'],
      expected: `Bearer resource_metadata="${META}", scope="mcp:read mcp:write"`,
    },
    {
      name: 'no credentials, no required scope: no empty scope=""',
      error: new MissingCredentials(),
      scope: [],
      expected: `Bearer resource_metadata="${META}"`,
    },
    {
      name: 'invalid_token: scope and resource_metadata before error_description',
      error: new InvalidToken('expired', 'The token has expired'),
      scope: ['mcp:read'],
      expected: `Bearer error="invalid_token", scope="mcp:read", resource_metadata="${META}", error_description="The token has expired"`,
    },
    {
      name: 'invalid_token without scope',
      error: new InvalidToken('audience', 'The token was not issued for this resource'),
      scope: [],
      expected: `Bearer error="invalid_token", resource_metadata="${META}", error_description="The token was not issued for this resource"`,
    },
    {
      name: 'insufficient_scope names the scopes the operation needs',
      error: new InsufficientScope(['mcp:write']),
      scope: ['mcp:write'],
      expected:
        `Bearer error="insufficient_scope", scope="mcp:write", resource_metadata="${META}", ` +
        'error_description="The access token lacks the scope this operation needs"',
    },
    {
      name: 'insufficient_scope with several scopes',
      error: new InsufficientScope(['repo:read', 'repo:write']),
      scope: ['repo:read', 'repo:write'],
      expected:
        `Bearer error="insufficient_scope", scope="repo:read repo:write", resource_metadata="${META}", ` +
        'error_description="The access token lacks the scope this operation needs"',
    },
    {
      name: 'invalid_request',
      error: new InvalidRequest('malformed_authorization', 'Malformed Bearer authorization header'),
      scope: [],
      expected: `Bearer error="invalid_request", resource_metadata="${META}", error_description="Malformed Bearer authorization header"`,
    },
    {
      name: 'quotes and backslashes are escaped (RFC 9110 §5.6.4)',
      error: new InvalidToken('malformed_token', 'a "quoted" \\ word'),
      scope: [],
      expected: `Bearer error="invalid_token", resource_metadata="${META}", error_description="a \\"quoted\\" \\\\ word"`,
    },
    {
      name: 'control characters are dropped',
      error: new InvalidToken('malformed_token', 'line\r\nbreak\ttab\u0000nul\u007fdel'),
      scope: [],
      expected: `Bearer error="invalid_token", resource_metadata="${META}", error_description="linebreaktabnuldel"`,
    },
    {
      name: 'a resource_metadata URL with a quote is escaped',
      error: new MissingCredentials(),
      scope: [],
      meta: 'https://x.test/a"b',
      expected: 'Bearer resource_metadata="https://x.test/a\\"b"',
    },
  ]
  for (const row of rows) {
    test(row.name, () => {
      assert.equal(buildChallenge(row.error, row.meta ?? META, row.scope), row.expected)
    })
  }

  test('the first scope= and resource_metadata= in the header are the real attributes', () => {
    // The MCP SDK client regex-matches `scope="..."` and `resource_metadata="..."` anywhere in the header.
    const header = buildChallenge(new InsufficientScope(['mcp:write']), META, ['mcp:write'])
    assert.equal(/scope="([^"]*)"/.exec(header)?.[1], 'mcp:write')
    assert.equal(/resource_metadata="([^"]*)"/.exec(header)?.[1], META)
    assert.ok(header.indexOf('scope=') < header.indexOf('error_description='))
    assert.ok(header.indexOf('resource_metadata=') < header.indexOf('error_description='))
  })

  test('one challenge, Bearer only, no line breaks', () => {
    const header = buildChallenge(new InvalidToken('expired', 'The token has expired'), META, ['a'])
    assert.equal(header.match(/Bearer/g)?.length, 1)
    assert.ok(!/[\r\n]/.test(header))
  })

  test('errors that carry no bearer error still build the no-credentials form', () => {
    assert.equal(buildChallenge(new ForbiddenOrigin(), META, []), `Bearer resource_metadata="${META}"`)
  })
})

describe('buildChallenges (RFC 9449 §7.1: one field per scheme, Bearer first)', () => {
  const ALGS = ['ES256', 'EdDSA']
  const optional = { algorithms: ALGS, required: false }
  const bare = (scheme: string) => `${scheme} resource_metadata="${META}", scope="mcp:read"${scheme === 'DPoP' ? ', algs="ES256 EdDSA"' : ''}`
  const rows: { name: string; error: GatewayError; used?: AuthScheme; dpop?: typeof optional; expected: string[] }[] = [
    {
      name: 'DPoP off: the one Bearer challenge, as before',
      error: new InvalidToken('expired', 'The token has expired'),
      used: 'Bearer',
      expected: [`Bearer error="invalid_token", scope="mcp:read", resource_metadata="${META}", error_description="The token has expired"`],
    },
    { name: 'no credentials: both schemes offered, neither with an error', error: new MissingCredentials(), dpop: optional, expected: [bare('Bearer'), bare('DPoP')] },
    {
      name: 'a bad Bearer token: the error on Bearer, DPoP offered bare',
      error: new InvalidToken('expired', 'The token has expired'),
      used: 'Bearer',
      dpop: optional,
      expected: [`Bearer error="invalid_token", scope="mcp:read", resource_metadata="${META}", error_description="The token has expired"`, bare('DPoP')],
    },
    {
      name: 'a bad token sent with DPoP: the error on DPoP',
      error: new InvalidToken('expired', 'The token has expired'),
      used: 'DPoP',
      dpop: optional,
      expected: [bare('Bearer'), `DPoP error="invalid_token", scope="mcp:read", resource_metadata="${META}", error_description="The token has expired", algs="ES256 EdDSA"`],
    },
    {
      name: 'a bad proof: invalid_dpop_proof on DPoP',
      error: new InvalidDpopProof('dpop_replay', 'The DPoP proof was already used'),
      used: 'DPoP',
      dpop: optional,
      expected: [bare('Bearer'), `DPoP error="invalid_dpop_proof", scope="mcp:read", resource_metadata="${META}", error_description="The DPoP proof was already used", algs="ES256 EdDSA"`],
    },
    {
      name: 'use_dpop_nonce on DPoP',
      error: new UseDpopNonce('n-1'),
      used: 'DPoP',
      dpop: optional,
      expected: [bare('Bearer'), `DPoP error="use_dpop_nonce", scope="mcp:read", resource_metadata="${META}", error_description="Resource server requires nonce in DPoP proof", algs="ES256 EdDSA"`],
    },
    {
      name: '403 keeps the scheme the client used (DPoP)',
      error: new InsufficientScope(['mcp:write']),
      used: 'DPoP',
      dpop: optional,
      expected: [`DPoP error="insufficient_scope", scope="mcp:write", resource_metadata="${META}", error_description="The access token lacks the scope this operation needs", algs="ES256 EdDSA"`],
    },
    {
      name: '403 keeps the scheme the client used (Bearer)',
      error: new InsufficientScope(['mcp:write']),
      used: 'Bearer',
      dpop: optional,
      expected: [`Bearer error="insufficient_scope", scope="mcp:write", resource_metadata="${META}", error_description="The access token lacks the scope this operation needs"`],
    },
    {
      name: 'DPoP required: only DPoP is offered, and it carries the error',
      error: new InvalidToken('dpop_required', 'This resource accepts DPoP-bound tokens only'),
      used: 'Bearer',
      dpop: { algorithms: ALGS, required: true },
      expected: [`DPoP error="invalid_token", scope="mcp:read", resource_metadata="${META}", error_description="This resource accepts DPoP-bound tokens only", algs="ES256 EdDSA"`],
    },
    { name: 'DPoP required, no credentials', error: new MissingCredentials(), dpop: { algorithms: ALGS, required: true }, expected: [bare('DPoP')] },
  ]
  for (const row of rows) {
    test(row.name, () => {
      const scope = row.error instanceof InsufficientScope ? row.error.scope : ['mcp:read']
      assert.deepEqual(buildChallenges(row.error, META, scope, row.used, row.dpop), row.expected)
    })
  }

  test('the MCP SDK client reads the joined fields as one Bearer challenge: the first scope= and resource_metadata= are Bearer\'s', () => {
    const joined = buildChallenges(new MissingCredentials(), META, ['mcp:read'], undefined, optional).join(', ')
    assert.ok(joined.startsWith('Bearer '))
    assert.equal(/scope="([^"]*)"/.exec(joined)?.[1], 'mcp:read')
    assert.equal(/resource_metadata="([^"]*)"/.exec(joined)?.[1], META)
  })
})

describe('quote', () => {
  const rows: { input: string; output: string }[] = [
    { input: '', output: '""' },
    { input: 'plain', output: '"plain"' },
    { input: 'a"b', output: '"a\\"b"' },
    { input: 'a\\b', output: '"a\\\\b"' },
    { input: '\\"', output: '"\\\\\\""' },
    { input: 'x\ny', output: '"xy"' },
    { input: 'mcp:read mcp:write', output: '"mcp:read mcp:write"' },
  ]
  for (const row of rows) {
    test(JSON.stringify(row.input), () => {
      assert.equal(quote(row.input), row.output)
    })
  }
})

describe('relayScopeChallenge: a backend step-up challenge made the gateway\'s', () => {
  const fixed = 'The MCP server requires more scope for this operation'
  const rows: { name: string; values: string | string[]; expected: string | undefined }[] = [
    {
      name: 'the MCP SDK bearer middleware form: resource_metadata replaced, scope first, description kept',
      values: 'Bearer error="insufficient_scope", error_description="Insufficient scope", scope="repo:admin", resource_metadata="http://backend:3000/.well-known/oauth-protected-resource"',
      expected: `Bearer error="insufficient_scope", scope="repo:admin", resource_metadata="${META}", error_description="Insufficient scope"`,
    },
    {
      name: 'offline_access and invalid scope tokens are dropped, duplicates once',
      values: 'Bearer error="insufficient_scope", scope="a offline_access a b\\\\c"',
      expected: `Bearer error="insufficient_scope", scope="a", resource_metadata="${META}", error_description="${fixed}"`,
    },
    {
      name: 'no scope: none named',
      values: 'Bearer error="insufficient_scope"',
      expected: `Bearer error="insufficient_scope", resource_metadata="${META}", error_description="${fixed}"`,
    },
    {
      name: 'a description with = is replaced',
      values: 'Bearer error="insufficient_scope", scope="s", error_description="needs scope=s"',
      expected: `Bearer error="insufficient_scope", scope="s", resource_metadata="${META}", error_description="${fixed}"`,
    },
    {
      name: 'a description carrying a token-like run is replaced',
      values: 'Bearer error="insufficient_scope", scope="s", error_description="token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0 lacks s"',
      expected: `Bearer error="insufficient_scope", scope="s", resource_metadata="${META}", error_description="${fixed}"`,
    },
    {
      name: 'a description with a quote or a control character is replaced',
      values: 'Bearer error="insufficient_scope", scope="s", error_description="say \\"hi\\""',
      expected: `Bearer error="insufficient_scope", scope="s", resource_metadata="${META}", error_description="${fixed}"`,
    },
    {
      name: 'the Bearer challenge among others, over several lines: one line out',
      values: ['Basic realm="x"', 'DPoP algs="ES256", Bearer error="insufficient_scope", scope="s"'],
      expected: `Bearer error="insufficient_scope", scope="s", resource_metadata="${META}", error_description="${fixed}"`,
    },
    { name: 'invalid_token is not relayed', values: 'Bearer error="invalid_token", scope="s"', expected: undefined },
    { name: 'another scheme is not relayed', values: 'Basic realm="insufficient_scope"', expected: undefined },
  ]
  for (const row of rows) {
    test(row.name, () => {
      assert.equal(relayScopeChallenge(row.values, META), row.expected)
    })
  }
})
