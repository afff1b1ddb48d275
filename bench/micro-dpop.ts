import { createHash, randomUUID } from 'node:crypto'
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose'
import { checkDpopProof } from '../src/token/dpop-proof.js'
import { createMemoryReplayCache } from '../src/token/replay-cache.js'

/**
 * `node --import tsx bench/micro-dpop.ts`: what a DPoP request costs the gateway on top of a
 * Bearer one, per request: the proof check (RFC 9449 §4.3: the header checked once per client key,
 * the signature on every proof) and the in-memory replay cache. Every proof is fresh and made
 * before the clock starts, so only the gateway's work is timed.
 */
const N = 5_000
const alg = process.argv[2] ?? 'ES256'
const htu = 'http://127.0.0.1:8080/mcp'
const token = `${'eyJhbGciOiJSUzI1NiIsInR5cCI6ImF0K2p3dCJ9'}.${'x'.repeat(420)}.${'s'.repeat(342)}`
const ath = createHash('sha256').update(token).digest('base64url')
const pair = await generateKeyPair(alg, { extractable: true })
const jwk = await exportJWK(pair.publicKey)
const jkt = await calculateJwkThumbprint(jwk, 'sha256')

async function proofs(n: number): Promise<string[]> {
  const iat = Math.floor(Date.now() / 1000)
  return Promise.all(
    Array.from({ length: n }, () =>
      new SignJWT({ htm: 'POST', htu, iat, jti: randomUUID(), ath }).setProtectedHeader({ typ: 'dpop+jwt', alg, jwk }).sign(pair.privateKey),
    ),
  )
}

const expectation = { method: 'POST', uri: htu, accessToken: token, algorithms: [alg], maxAgeSeconds: 300 }
for (let round = 0; round < 3; round++) {
  const batch = await proofs(N)
  const replay = createMemoryReplayCache({ maxEntries: 2 * N })
  const cpu = process.cpuUsage()
  const start = performance.now()
  for (const proof of batch) {
    const checked = await checkDpopProof(proof, { ...expectation, nowSeconds: Math.floor(Date.now() / 1000) })
    if (checked.jkt !== jkt || !(await replay.firstUse(checked.jkt, checked.jti, 600_000))) throw new Error('refused')
  }
  const wall = ((performance.now() - start) * 1000) / N
  const used = process.cpuUsage(cpu)
  console.log(`${alg} proof check + replay cache: ${wall.toFixed(1)} µs wall, ${((used.user + used.system) / N).toFixed(1)} µs CPU per request`)
}
