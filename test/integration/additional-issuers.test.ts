import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { after, before, test } from 'node:test'
import { listenOnLoopback, closeServer } from '../support/listen.js'
import { makeTempDir, startTestGateway, type TestGateway } from '../support/gateway.js'
import { startRawBackend, type RawBackend } from '../support/raw-backend.js'
import { accessTokenClaims, createTestKeys, mintJwt, type TestKeys } from '../support/tokens.js'

/**
 * One authorization server may sign under several `iss` strings (Entra ID's v1 and v2 issuers): the
 * gateway accepts both with one key set, fetched once, and still refuses any other issuer.
 */

const V2 = 'https://login.example.test/tenant/v2.0'
const V1 = 'https://sts.example.test/tenant/'
let keys: TestKeys
let jwksFetches = 0
const jwksServer = createServer((_req, res) => {
  jwksFetches++
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end(JSON.stringify(keys.jwks))
})
let backend: RawBackend
let gateway: TestGateway
let temp: Awaited<ReturnType<typeof makeTempDir>>

before(async () => {
  keys = await createTestKeys()
  const port = await listenOnLoopback(jwksServer)
  backend = await startRawBackend((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('{"jsonrpc":"2.0","id":1,"result":{}}')
  })
  temp = await makeTempDir()
  const file = join(temp.dir, 'gateway.yaml')
  writeFileSync(
    file,
    stringify({ authorizationServers: [{ issuer: V2, additionalIssuers: [V1], jwksUri: `http://127.0.0.1:${port}/keys` }] }),
  )
  gateway = await startTestGateway({ env: { MCP_CONFIG: file, MCP_BACKEND: backend.origin, MCP_LOG_LEVEL: 'silent' } })
})
after(async () => {
  await gateway.close()
  await temp.remove()
  await backend.close()
  await closeServer(jwksServer)
})

test('both issuer strings are accepted with one key set fetched once; any other issuer is refused', async () => {
  const call = async (iss: string) => {
    const token = await mintJwt({ key: keys.rsa, claims: accessTokenClaims({ issuer: iss, audience: gateway.canonicalUri }) })
    const response = await fetch(gateway.canonicalUri, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
    })
    await response.text()
    return response.status
  }
  assert.equal(await call(V2), 200)
  assert.equal(await call(V1), 200)
  assert.equal(await call('https://evil.example.test/'), 401)
  assert.equal(jwksFetches, 1)
})
