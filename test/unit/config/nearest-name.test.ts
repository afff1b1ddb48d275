import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { editDistance, nearestName } from '../../../src/config/nearest-name.js'

describe('editDistance', () => {
  const rows: [string, string, number][] = [
    ['', '', 0],
    ['', 'abc', 3],
    ['kitten', 'sitting', 3],
    ['MCP_REQUIRED_SCOPES', 'MCP_REQUIRED_SCOPE', 1],
    ['MCP_JWKS_URL', 'MCP_JWKS_URI', 1],
    ['MCP_TSL', 'MCP_TLS', 2],
  ]
  for (const [a, b, distance] of rows) {
    test(`${JSON.stringify(a)} -> ${JSON.stringify(b)} is ${distance}, both ways`, () => {
      assert.equal(editDistance(a, b), distance)
      assert.equal(editDistance(b, a), distance)
    })
  }
})

describe('nearestName', () => {
  const known = ['MCP_REQUIRED_SCOPE', 'MCP_SCOPES_SUPPORTED', 'MCP_TLS', 'MCP_JWKS_URI']
  test('the closest known name', () => {
    assert.equal(nearestName('MCP_REQUIRED_SCOPES', known), 'MCP_REQUIRED_SCOPE')
    assert.equal(nearestName('MCP_TSL', known), 'MCP_TLS')
  })
  test('no guess when even the closest is far', () => {
    assert.equal(nearestName('MCP_FROBNICATE', known), undefined)
    assert.equal(nearestName('MCP_X', []), undefined)
  })
})
