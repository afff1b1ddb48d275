import assert from 'node:assert/strict'
import { test } from 'node:test'
import * as library from '../../src/index.js'

/** The public surface is explicit: adding or removing an export is a decision this test records. */
test('the package exports exactly its public surface', () => {
  assert.deepEqual(Object.keys(library).sort(), [
    'AuthorizationServerUnavailable',
    'BadRequest',
    'ConfigError',
    'ForbiddenOrigin',
    'GatewayError',
    'InsufficientScope',
    'InvalidRequest',
    'InvalidToken',
    'MissingCredentials',
    'RateLimited',
    'UpstreamError',
    'VerifierUnavailable',
    'buildChallenge',
    'buildProtectedResourceMetadata',
    'createGatewayHandler',
    'createMcpAuthorizer',
    'createResourceServer',
    'createVerifier',
    'events',
    'extractBearerToken',
    'filterListResponses',
    'loadConfig',
    'protectedResourceMetadataUrl',
    'resourceServerSchema',
    'startGateway',
  ])
})

test('the built package entry (what `npm ci` builds through `prepare`) exposes the same surface', async () => {
  // A variable specifier: the typecheck must not depend on dist/ existing.
  const entry = '../../dist/index.js'
  const built = (await import(entry)) as Record<string, unknown>
  assert.deepEqual(Object.keys(built).sort(), Object.keys(library).sort())
})
