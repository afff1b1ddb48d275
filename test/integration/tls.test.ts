import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { copyFile, readFile } from 'node:fs/promises'
import { request as httpsRequest, Agent } from 'node:https'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { connect, createServer as createTlsServer, type SecureVersion, type TLSSocket } from 'node:tls'
import { loadConfig } from '../../src/config/load.js'
import { startGateway, type RunningGateway } from '../../src/server/http.js'
import { spawnServe, type CliProcess } from '../support/cli-process.js'
import { createOpsFixture, type OpsFixture } from '../support/ops-fixture.js'
import { send } from '../support/gateway.js'

/**
 * HTTPS served by the gateway itself (MCP_TLS=on), with self-signed certificates made here by
 * openssl: TLS 1.1 refused, a 1.3 minimum honoured, HSTS on every response, and the certificate
 * replaced on SIGHUP without dropping the connections that are open.
 */

interface Pem {
  cert: string
  key: string
  fingerprint: string
}

function makeCertificate(dir: string, name: string): Pem {
  const cert = join(dir, `${name}.crt`)
  const key = join(dir, `${name}.key`)
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${name}`,
    '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { stdio: 'ignore' })
  return { cert, key, fingerprint: new X509Certificate(readFileSync(cert)).fingerprint256 }
}

interface Handshake {
  protocol: string | null
  fingerprint: string
}

/** One TLS handshake to 127.0.0.1:port with the given version bounds; rejects with the TLS error. */
function handshake(port: number, ca: string, options: { min?: SecureVersion; max?: SecureVersion; ciphers?: string } = {}): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      ca,
      ...(options.min === undefined ? {} : { minVersion: options.min }),
      ...(options.max === undefined ? {} : { maxVersion: options.max }),
      ...(options.ciphers === undefined ? {} : { ciphers: options.ciphers }),
    })
    socket.once('secureConnect', () => {
      const result = { protocol: socket.getProtocol(), fingerprint: socket.getPeerX509Certificate()?.fingerprint256 ?? '' }
      socket.end()
      resolve(result)
    })
    socket.once('error', reject)
  })
}

function get(url: string, ca: string, agent?: Agent): Promise<{ status: number; headers: Record<string, unknown>; reused: boolean; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca, ...(agent === undefined ? { agent: false } : { agent }) }, (res) => {
      const fingerprint = fingerprints.get(res.socket) ?? ''
      res.resume()
      res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, reused: req.reusedSocket, fingerprint }))
    })
    // Node drops the peer certificate of a pooled socket once it is reused: remember it per socket.
    req.once('socket', (socket: TLSSocket) => {
      if (!fingerprints.has(socket)) {
        socket.once('secureConnect', () => fingerprints.set(socket, socket.getPeerX509Certificate()?.fingerprint256 ?? ''))
      }
    })
    req.once('error', reject)
    req.end()
  })
}

const fingerprints = new WeakMap<object, string>()

/** TLS 1.1 needs OpenSSL security level 0 on this OpenSSL 3; the control server proves the client can speak it. */
const LEGACY_CIPHERS = 'DEFAULT:@SECLEVEL=0'

describe('TLS served by the gateway', () => {
  let fx: OpsFixture
  let pemA: Pem
  let pemB: Pem
  const gateways: RunningGateway[] = []

  before(async () => {
    fx = await createOpsFixture({ scheme: 'https' })
    pemA = makeCertificate(fx.dir, 'gateway-a')
    pemB = makeCertificate(fx.dir, 'gateway-b')
  })
  after(async () => {
    for (const gw of gateways) await gw.close({ timeoutMs: 0 })
    await fx?.close()
  })

  async function start(minVersion?: '1.2' | '1.3', port = 0): Promise<RunningGateway> {
    const file = await fx.writeConfig({
      listen: { host: '127.0.0.1', port },
      tls: { enabled: true, certFile: pemA.cert, keyFile: pemA.key, ...(minVersion === undefined ? {} : { minVersion }) },
    })
    const gw = await startGateway(await loadConfig({ argv: ['--config', file], env: {} }))
    gateways.push(gw)
    return gw
  }
  const portOf = (gw: RunningGateway) => Number(new URL(gw.url).port)

  test('default minimum 1.2: TLS 1.1 is refused although the client can speak it; 1.2 and 1.3 are served', async () => {
    const ca = await readFile(pemA.cert, 'utf8')
    const control = createTlsServer({ cert: ca, key: await readFile(pemA.key, 'utf8'), minVersion: 'TLSv1', ciphers: LEGACY_CIPHERS }, (s) => s.end())
    await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve))
    try {
      const legacy = await handshake((control.address() as AddressInfo).port, ca, { min: 'TLSv1.1', max: 'TLSv1.1', ciphers: LEGACY_CIPHERS })
      assert.equal(legacy.protocol, 'TLSv1.1', 'the control server must accept the TLS 1.1 client')
    } finally {
      control.close()
    }

    const gw = await start()
    await assert.rejects(handshake(portOf(gw), ca, { min: 'TLSv1.1', max: 'TLSv1.1', ciphers: LEGACY_CIPHERS }), (error: NodeJS.ErrnoException) =>
      /PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|WRONG_VERSION/i.test(`${error.code} ${error.message}`),
    )
    assert.equal((await handshake(portOf(gw), ca, { max: 'TLSv1.2' })).protocol, 'TLSv1.2')
    assert.equal((await handshake(portOf(gw), ca)).protocol, 'TLSv1.3')
  })

  test('minimum 1.3 (MCP_TLS_MIN_VERSION=1.3): a 1.2-only client is refused', async () => {
    const ca = await readFile(pemA.cert, 'utf8')
    const gw = await start('1.3')
    await assert.rejects(handshake(portOf(gw), ca, { max: 'TLSv1.2' }), (error: NodeJS.ErrnoException) =>
      /PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL/i.test(`${error.code} ${error.message}`),
    )
    assert.equal((await handshake(portOf(gw), ca, { min: 'TLSv1.3' })).protocol, 'TLSv1.3')
  })

  test('HSTS on every response with TLS on, never without', async () => {
    const ca = await readFile(pemA.cert, 'utf8')
    const gw = await start()
    const hsts = 'max-age=31536000; includeSubDomains'
    for (const path of ['/healthz', '/.well-known/oauth-protected-resource/mcp', '/mcp', '/nowhere']) {
      const res = await get(`${gw.url}${path}`, ca)
      assert.equal(res.headers['strict-transport-security'], hsts, `${path} (${res.status})`)
    }
    const plainFile = await fx.writeConfig({ listen: { host: '127.0.0.1', port: 0 }, resource: { canonicalUri: 'http://127.0.0.1:1/mcp' } })
    const plain = await startGateway(await loadConfig({ argv: ['--config', plainFile], env: {} }))
    gateways.push(plain)
    const res = await send(`${plain.url}/healthz`)
    assert.equal(res.headers['strict-transport-security'], undefined)
  })

  test('SIGHUP serves a renewed certificate and minimum version to new connections, keeps open ones, refuses a broken pair', async () => {
    const certFile = join(fx.dir, 'live.crt')
    const keyFile = join(fx.dir, 'live.key')
    await copyFile(pemA.cert, certFile)
    await copyFile(pemA.key, keyFile)
    const config = await fx.writeConfig({ tls: { enabled: true, certFile, keyFile } })
    const gw: CliProcess = spawnServe(['--config', config], { MCP_AUDIT_LOG: 'off' }, 'tls-reload')
    try {
      await gw.waitForLine((l) => l.msg === 'listening', 'listening')
      const both = (await readFile(pemA.cert, 'utf8')) + (await readFile(pemB.cert, 'utf8'))
      const url = `https://127.0.0.1:${fx.port}/healthz`
      const agent = new Agent({ keepAlive: true, maxSockets: 1 })
      const first = await get(url, both, agent)
      assert.equal(first.fingerprint, pemA.fingerprint)

      await copyFile(pemB.cert, certFile)
      await copyFile(pemB.key, keyFile)
      await fx.writeConfig({ tls: { enabled: true, certFile, keyFile, minVersion: '1.3' } })
      gw.signal('SIGHUP')
      await gw.waitForLine((l) => l.msg === 'configuration reloaded', 'the reload')

      const kept = await get(url, both, agent)
      assert.equal(kept.reused, true, 'the open connection was kept')
      assert.equal(kept.fingerprint, pemA.fingerprint)
      assert.equal((await get(url, both)).fingerprint, pemB.fingerprint)
      await assert.rejects(handshake(fx.port, both, { max: 'TLSv1.2' }), (error: NodeJS.ErrnoException) => /PROTOCOL_VERSION/i.test(`${error.code}`), 'the new minimum applies')
      agent.destroy()

      // A certificate with another certificate's key: refused, the renewed pair stays.
      await copyFile(pemA.key, keyFile)
      const already = gw.lines.length
      gw.signal('SIGHUP')
      const refused = await gw.waitForLine(
        (l) => gw.lines.indexOf(l) >= already && String(l.msg).startsWith('configuration reload refused'),
        'the refusal',
      )
      assert.match(JSON.stringify(refused.problems), /TLS certificate or key/)
      assert.equal((await get(url, both)).fingerprint, pemB.fingerprint)
      gw.signal('SIGTERM')
      assert.equal(await gw.exited, 0)
    } finally {
      await gw.kill()
    }
  })
})
