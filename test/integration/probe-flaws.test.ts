import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import type { ProbeReport } from '../../src/probe/result.js'
import { runProbe } from '../../src/probe/run-probe.js'
import { startRawBackend, type RawBackend } from '../support/mcp-backend.js'

/**
 * A hand-written resource server and authorization server with the mistakes strict clients trip
 * on, which neither the gateway nor oidc-provider can be made to show: the probe reports each one
 * at its step and keeps walking.
 */

describe('probe against a flawed deployment', () => {
  let rs: RawBackend
  let as: RawBackend
  let report: ProbeReport

  before(async () => {
    as = await startRawBackend((req, res) => {
      if (req.url === '/.well-known/oauth-authorization-server') {
        res.writeHead(200, { 'content-type': 'application/json' })
        // No code_challenge_methods_supported, and the issuer without the slash the RS advertises.
        res.end(JSON.stringify({ issuer: as.origin, authorization_endpoint: `${as.origin}/authorize`, token_endpoint: `${as.origin}/token` }))
        return
      }
      res.writeHead(404).end()
    })
    rs = await startRawBackend((req, res) => {
      if (req.method === 'POST' && req.url === '/mcp') {
        res.writeHead(401, {
          'www-authenticate': `Bearer error="invalid_token", resource_metadata="${rs.origin}/.well-known/oauth-protected-resource/mcp"`,
        })
        res.end()
        return
      }
      if (req.url === '/.well-known/oauth-protected-resource/mcp') {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ resource: `${rs.origin}/mcp/`, authorization_servers: [`${as.origin}/`], scopes_supported: ['a'] }))
        return
      }
      res.writeHead(404).end()
    })
    report = await runProbe({ url: rs.url, timeoutMs: 5000 })
  })
  after(async () => {
    await rs.close()
    await as.close()
  })

  test('the run fails, every step having run', () => {
    assert.equal(report.passed, false)
    assert.deepEqual(
      report.steps.map((s) => [s.id, s.status]),
      [
        ['unauthenticated', 'ok'],
        ['challenge', 'warn'],
        ['resource-metadata', 'warn'],
        ['resource-match', 'fail'],
        ['authorization-server', 'fail'],
        ['pkce', 'fail'],
      ],
    )
  })

  test('the challenge: an error code without credentials and no scope', () => {
    const saw = report.steps[1]?.saw.join('\n') ?? ''
    assert.match(saw, /error="invalid_token" on a request without credentials/)
    assert.match(saw, /no scope/)
  })

  test('the metadata: no CORS, path-aware only (root 404 is fine once the header names the URL)', () => {
    const step = report.steps[2]
    assert.match(step?.saw.join('\n') ?? '', /no Access-Control-Allow-Origin/)
    assert.match(step?.saw.join('\n') ?? '', /oauth-protected-resource -> HTTP 404/)
    assert.match(step?.client ?? '', /the authorization server http:\/\/127\.0\.0\.1:\d+\/$/)
  })

  test('a trailing slash on resource and on the issuer: each reported', () => {
    assert.match(report.steps[3]?.client ?? '', /Protected resource .*\/mcp\/ does not match expected .*\/mcp"/)
    assert.match(report.steps[4]?.saw.join('\n') ?? '', /only a trailing slash differs/)
    assert.match(report.steps[5]?.saw.join('\n') ?? '', /no code_challenge_methods_supported/)
  })
})
