import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { chmod, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { SignJWT, createRemoteJWKSet, jwtVerify } from 'jose'
import { assertionJwks } from '../../src/identity/jwks.js'
import { startAdminServer, type AdminServer } from '../../src/server/admin.js'
import { makeTempDir, send, startGatewayStack } from '../support/gateway.js'
import type { GatewayStack } from '../support/gateway.js'
import { assertNeverSent, whoami } from '../support/identity-client.js'

// Issue 15: the backend learns who called from an identity of the gateway's making (a signed
// assertion, or plain headers), verified by a real SDK backend; never from the client's token,
// and never from headers the client forged.

async function writeConfig(dir: string, yaml: string): Promise<string> {
  const path = join(dir, 'gateway.yaml')
  await writeFile(path, yaml)
  return path
}

describe('headers mode: plain identity headers, forged ones removed', () => {
  let stack: GatewayStack
  let temp: Awaited<ReturnType<typeof makeTempDir>>

  before(async () => {
    temp = await makeTempDir()
    const file = await writeConfig(temp.dir, 'upstreamIdentity:\n  mode: headers\n  headers:\n    X-MCP-Subject: sub\n    x-mcp-client-id: client_id\n    x-mcp-tenant: tid\n')
    stack = await startGatewayStack({
      argv: ['--config', file],
      backend: {
        identify: async (req) => {
          const sub = req.headers['x-mcp-subject']
          if (typeof sub !== 'string') return undefined
          const tenant = req.headers['x-mcp-tenant']
          return { sub, client_id: req.headers['x-mcp-client-id'], ...(tenant === undefined ? {} : { tenant }) }
        },
      },
    })
  })
  after(async () => {
    await stack?.close()
    await temp?.remove()
  })

  test("the tool result shows the caller's sub and client id; the backend never saw the token", async () => {
    const token = await stack.as.userToken({ accountId: 'alice', resource: stack.gateway.canonicalUri, scope: 'mcp:read' })
    assert.deepEqual(await whoami(stack.gateway.canonicalUri, token), { sub: 'alice', client_id: 'm2m' })
    assertNeverSent(stack.backend.requests, token)
  })

  test('client-sent identity headers are removed, whatever their case, also where the token has no such claim', async () => {
    const token = await stack.as.userToken({ accountId: 'bob', resource: stack.gateway.canonicalUri, scope: 'mcp:read' })
    const before = stack.backend.requests.length
    // The token has no `tid`: the gateway sends no X-MCP-Tenant, and the client's must not pass.
    const seen = await whoami(stack.gateway.canonicalUri, token, { 'X-Mcp-Subject': 'mallory', 'x-mcp-client-id': 'forged', 'X-MCP-Tenant': 'evil' })
    assert.deepEqual(seen, { sub: 'bob', client_id: 'm2m' })
    for (const request of stack.backend.requests.slice(before)) {
      const values = request.rawHeaders.filter((_, i) => i % 2 === 1 && /^x-mcp-(subject|client-id)$/i.test(request.rawHeaders[i - 1] as string))
      assert.ok(!values.includes('mallory') && !values.includes('forged'), `forged value reached the backend: ${values.join(', ')}`)
      assert.equal(values.length, 2)
      assert.equal(request.headers['x-mcp-tenant'], undefined)
    }
  })
})

describe('assertion mode: a JWS the gateway signs, verified by the backend with the published JWKS', () => {
  let stack: GatewayStack
  let admin: AdminServer
  let temp: Awaited<ReturnType<typeof makeTempDir>>
  let jwksUrl = ''
  const backendAudience = 'https://backend.test'

  before(async () => {
    temp = await makeTempDir()
    const keyFile = join(temp.dir, 'assertion.pem')
    const { privateKey } = generateKeyPairSync('ec', {
      namedCurve: 'P-256',
      publicKeyEncoding: { format: 'pem', type: 'spki' },
      privateKeyEncoding: { format: 'pem', type: 'pkcs8' },
    })
    await writeFile(keyFile, privateKey)
    await chmod(keyFile, 0o600)
    const file = await writeConfig(
      temp.dir,
      `upstreamIdentity:\n  mode: assertion\n  assertion:\n    signingKeyFile: ${keyFile}\n    audience: ${backendAudience}\n    lifetimeSeconds: 30\n`,
    )
    stack = await startGatewayStack({
      argv: ['--config', file],
      backend: {
        identify: async (req) => {
          const assertion = req.headers['x-mcp-identity']
          if (typeof assertion !== 'string') return undefined
          try {
            const { payload, protectedHeader } = await jwtVerify(assertion, createRemoteJWKSet(new URL(jwksUrl)), {
              issuer: stack.gateway.canonicalUri,
              audience: backendAudience,
              algorithms: ['ES256'],
            })
            return { ...payload, alg: protectedHeader.alg }
          } catch {
            return undefined
          }
        },
      },
    })
    jwksUrl = `${stack.gateway.url}/.well-known/jwks.json`
    admin = await startAdminServer({ host: '127.0.0.1', port: 0, ready: async () => true, jwks: assertionJwks(stack.gateway.config.upstreamIdentity) })
  })
  after(async () => {
    await admin?.close()
    await stack?.close()
    await temp?.remove()
  })

  test('the backend verifies the assertion and sees sub, client_id, scope and the original issuer; never the token', async () => {
    const token = await stack.as.userToken({ accountId: 'alice', resource: stack.gateway.canonicalUri, scope: 'mcp:read mcp:write' })
    const seen = (await whoami(stack.gateway.canonicalUri, token)) as Record<string, unknown>
    assert.equal(seen['sub'], 'alice')
    assert.equal(seen['client_id'], 'm2m')
    assert.equal(seen['scope'], 'mcp:read mcp:write')
    assert.equal(seen['original_iss'], stack.as.issuer)
    assert.equal(seen['alg'], 'ES256')
    assert.equal((seen['exp'] as number) - (seen['iat'] as number), 30)
    assert.match(String(seen['jti']), /^[0-9a-f-]{36}$/)
    assertNeverSent(stack.backend.requests, token)
  })

  test('a client-forged assertion is removed: the backend only ever sees the one the gateway signed', async () => {
    const token = await stack.as.userToken({ accountId: 'carol', resource: stack.gateway.canonicalUri, scope: 'mcp:read' })
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const forged = await new SignJWT({ sub: 'admin' }).setProtectedHeader({ alg: 'ES256' }).sign(privateKey)
    const before = stack.backend.requests.length
    const seen = (await whoami(stack.gateway.canonicalUri, token, { 'x-mcp-identity': forged })) as Record<string, unknown>
    assert.equal(seen['sub'], 'carol')
    for (const request of stack.backend.requests.slice(before)) {
      assert.ok(!request.rawHeaders.includes(forged))
      assert.equal(request.rawHeaders.filter((name) => name.toLowerCase() === 'x-mcp-identity').length, 1)
    }
  })

  test('the JWKS is served on the main port and on the admin listener: the public key only', async () => {
    for (const url of [jwksUrl, `${admin.url}/.well-known/jwks.json`]) {
      const response = await send(url)
      assert.equal(response.status, 200, url)
      assert.equal(response.headers['content-type'], 'application/json')
      const jwks = JSON.parse(response.body) as { keys: Record<string, unknown>[] }
      assert.equal(jwks.keys.length, 1)
      assert.equal(jwks.keys[0]?.['alg'], 'ES256')
      assert.equal(jwks.keys[0]?.['d'], undefined)
    }
    assert.equal((await send(jwksUrl, { method: 'POST' })).status, 405)
  })
})
