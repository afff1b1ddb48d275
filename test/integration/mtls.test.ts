import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { request as httpsRequest } from 'node:https'
import { decodeJwt } from 'jose'
import { reservePort } from '../../src/demo/reserve-port.js'
import { MTLS_CLIENT, startAuthorizationServer, type AuthorizationServer } from '../support/authorization-server.js'
import { makeClientCertificate, makeSelfSigned, type CertificateFiles } from '../support/certificates.js'
import { INITIALIZE_BODY, makeTempDir, mcpHeaders, startTestGateway, type TestGateway } from '../support/gateway.js'
import { recordSecret } from '../support/log-capture.js'
import { startMcpBackend, type McpBackend } from '../support/mcp-backend.js'

/**
 * Certificate-bound access tokens (RFC 8705 §3) end to end: oidc-provider's mTLS feature binds the
 * token to the client certificate the test made with openssl (`cnf.x5t#S256`), and the gateway,
 * serving HTTPS with a client CA, lets it through only over a connection with that certificate.
 */

const SCOPE = 'mcp:read'

interface Answer {
  status: number
  headers: Record<string, unknown>
  body: string
}

function post(url: string, server: CertificateFiles, token: string, client?: CertificateFiles): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        method: 'POST',
        ca: server.cert,
        agent: false,
        headers: { ...mcpHeaders(), authorization: `Bearer ${token}`, 'content-length': Buffer.byteLength(INITIALIZE_BODY) },
        ...(client === undefined ? {} : { cert: client.cert, key: client.key }),
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }))
      },
    )
    req.once('error', reject)
    req.end(INITIALIZE_BODY)
  })
}

describe('certificate-bound tokens from oidc-provider, over the gateway\'s own TLS', () => {
  let temp: { dir: string; remove(): Promise<void> }
  let ca: CertificateFiles
  let client: CertificateFiles
  let otherClient: CertificateFiles
  let serverCert: CertificateFiles
  let as: AuthorizationServer
  let backend: McpBackend
  let optional: TestGateway
  let required: TestGateway
  let token: string
  let canonicalUri: string

  const gateway = async (mode: 'optional' | 'required', port?: number, canonical?: string) =>
    startTestGateway({
      ...(port === undefined ? {} : { port }),
      env: {
        ...(canonical === undefined ? {} : { MCP_CANONICAL_URI: canonical }),
        MCP_AUTHORIZATION_SERVER: as.issuer,
        MCP_JWKS_URI: as.jwksUri,
        MCP_BACKEND: backend.origin,
        MCP_SCOPES_SUPPORTED: SCOPE,
        MCP_TLS: 'on',
        MCP_SSL_CERT_FILE: serverCert.certFile,
        MCP_SSL_CERT_KEY_FILE: serverCert.keyFile,
        MCP_TLS_CLIENT_CA_FILE: ca.certFile,
        MCP_MTLS_BOUND_TOKENS: mode,
      },
    })

  before(async () => {
    temp = await makeTempDir()
    ca = makeSelfSigned(temp.dir, 'client-ca')
    client = makeClientCertificate(temp.dir, 'client', ca)
    otherClient = makeClientCertificate(temp.dir, 'other-client', ca)
    serverCert = makeSelfSigned(temp.dir, 'gateway')
    const port = await reservePort()
    canonicalUri = `https://127.0.0.1:${port}/mcp`
    as = await startAuthorizationServer({ resources: { [canonicalUri]: { scope: SCOPE, format: 'jwt' } }, mtls: true })
    backend = await startMcpBackend()
    optional = await gateway('optional', port, canonicalUri)
    // A second replica in `required` mode, serving the same canonical URI (the token's audience).
    required = await gateway('required', undefined, canonicalUri)
    token = await as.clientCredentialsToken({
      ...MTLS_CLIENT,
      resource: canonicalUri,
      scope: SCOPE,
      headers: { 'x-test-client-certificate': encodeURIComponent(client.cert) },
    })
    recordSecret(token)
  })
  after(async () => {
    await required?.close()
    await optional?.close()
    await backend?.close()
    await as?.close()
    await temp?.remove()
  })

  test('oidc-provider binds the token to the client certificate (cnf.x5t#S256)', () => {
    assert.deepEqual(decodeJwt(token)['cnf'], { 'x5t#S256': client.x5t })
  })

  test('allowed over a connection with that certificate', async () => {
    const answer = await post(`${optional.url}/mcp`, serverCert, token, client)
    assert.equal(answer.status, 200, answer.body)
  })

  test('refused with another certificate of the same CA: 401 invalid_token', async () => {
    const answer = await post(`${optional.url}/mcp`, serverCert, token, otherClient)
    assert.equal(answer.status, 401)
    assert.deepEqual(JSON.parse(answer.body), { error: 'invalid_token', error_description: 'The client certificate does not match the token binding' })
    assert.match(String(answer.headers['www-authenticate']), /^Bearer error="invalid_token"/)
  })

  test('refused without a certificate (mtls: optional lets the connection in)', async () => {
    const answer = await post(`${optional.url}/mcp`, serverCert, token)
    assert.equal(answer.status, 401)
    assert.equal(JSON.parse(answer.body).error_description, 'The client certificate does not match the token binding')
  })

  test('a certificate outside the client CA never binds, even for a token bound to it', async () => {
    const stranger = makeSelfSigned(temp.dir, 'stranger')
    const strangerToken = await as.clientCredentialsToken({
      ...MTLS_CLIENT,
      resource: canonicalUri,
      scope: SCOPE,
      headers: { 'x-test-client-certificate': encodeURIComponent(stranger.cert) },
    })
    recordSecret(strangerToken)
    assert.deepEqual(decodeJwt(strangerToken)['cnf'], { 'x5t#S256': stranger.x5t })
    const answer = await post(`${optional.url}/mcp`, serverCert, strangerToken, stranger)
    assert.equal(answer.status, 401)
  })

  test('mtls: required: the handshake refuses a client without a certificate; with it, allowed', async () => {
    await assert.rejects(post(`${required.url}/mcp`, serverCert, token))
    assert.equal((await post(`${required.url}/mcp`, serverCert, token, client)).status, 200)
  })

  test('the metadata says certificate-bound tokens are accepted (RFC 9728 §2)', async () => {
    const document = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const req = httpsRequest(`${optional.url}/.well-known/oauth-protected-resource/mcp`, { ca: serverCert.cert, agent: false }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.once('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>))
      })
      req.once('error', reject)
      req.end()
    })
    assert.equal(document['tls_client_certificate_bound_access_tokens'], true)
  })
})
