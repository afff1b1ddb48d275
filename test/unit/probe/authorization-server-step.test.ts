import { test } from 'node:test'
import assert from 'node:assert/strict'
import { evaluateAuthorizationServer, evaluatePkce } from '../../../src/probe/authorization-server-step.js'

const metadata = {
  issuer: 'https://as.example.com',
  authorization_endpoint: 'https://as.example.com/authorize',
  token_endpoint: 'https://as.example.com/token',
  response_types_supported: ['code'],
  registration_endpoint: 'https://as.example.com/register',
  code_challenge_methods_supported: ['S256'],
}

test('a complete metadata document passes and names the registration route', () => {
  const step = evaluateAuthorizationServer('https://as.example.com', metadata)
  assert.equal(step.status, 'ok')
  assert.match(step.saw.join('\n'), /dynamic registration at https:\/\/as\.example\.com\/register/)
  assert.match(step.client, /sends the user to https:\/\/as\.example\.com\/authorize/)
})

test('CIMD is preferred, and without either the client needs a pre-registered id', () => {
  assert.match(evaluateAuthorizationServer(metadata.issuer, { ...metadata, client_id_metadata_document_supported: true }).saw.join(), /Client ID Metadata Document/)
  const { registration_endpoint: _, ...none } = metadata
  assert.match(evaluateAuthorizationServer(metadata.issuer, none).saw.join(), /pre-registered client id/)
})

test('an issuer differing by a trailing slash fails (RFC 8414 §3.3)', () => {
  const step = evaluateAuthorizationServer('https://as.example.com/', metadata)
  assert.equal(step.status, 'fail')
  assert.match(step.saw.join('\n'), /only a trailing slash differs/)
})

test('missing endpoints and a response type without code fail', () => {
  const step = evaluateAuthorizationServer(metadata.issuer, { issuer: metadata.issuer, response_types_supported: ['token'] })
  assert.equal(step.status, 'fail')
  assert.match(step.saw.join('\n'), /no authorization_endpoint[\s\S]*no token_endpoint[\s\S]*lacks "code"/)
})

test('PKCE: S256 ok; absent or without S256 fails (MCP authorization 2025-11-25)', () => {
  assert.equal(evaluatePkce(metadata).status, 'ok')
  const absent = evaluatePkce({ issuer: metadata.issuer })
  assert.equal(absent.status, 'fail')
  assert.match(absent.client, /refuses/)
  assert.equal(evaluatePkce({ issuer: metadata.issuer, code_challenge_methods_supported: ['plain'] }).status, 'fail')
})
