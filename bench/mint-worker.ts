import { createPrivateKey } from 'node:crypto'
import { parentPort, workerData } from 'node:worker_threads'
import { accessTokenClaims, signJwt } from './keys.js'

/**
 * Mints distinct RS256 access tokens on request (memory mode): each `{count}` message is answered
 * with that many tokens, every one with its own `sub` and `jti`. Signing is the slow part (an RSA
 * private-key operation each), so two of these run beside the sender.
 */
interface MintData {
  privatePem: string
  kid: string
  issuer: string
  audience: string
  scope: string
  prefix: string
}

const data = workerData as MintData
const key = createPrivateKey(data.privatePem)
let next = 0
parentPort?.on('message', (message: { count: number }) => {
  const tokens: string[] = []
  for (let i = 0; i < message.count; i++) {
    const claims = accessTokenClaims(data.issuer, data.audience, data.scope, `${data.prefix}-${next++}`, 3600)
    tokens.push(signJwt('RS256', data.kid, key, claims))
  }
  parentPort?.postMessage(tokens)
})
