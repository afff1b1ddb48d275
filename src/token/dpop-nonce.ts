import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/**
 * RFC 9449 §9 server-provided nonces, stateless: a nonce is the time it was issued, sealed with an
 * HMAC, so any process holding the key can check it without storing anything. It is accepted for
 * `lifetimeSeconds` after issue. Replicas that share the key (`nonceSecretFile`) accept each
 * other's nonces; with a per-process random key a client may be sent a new nonce by each replica.
 */
export interface NonceSealer {
  issue(nowSeconds: number): string
  /** Whether `nonce` was issued with this key no longer than the lifetime ago (and not in the future). */
  valid(nonce: string, nowSeconds: number): boolean
}

const TIME_BYTES = 6
const MAC_BYTES = 16

export function createNonceSealer(lifetimeSeconds: number, key: Buffer = randomBytes(32)): NonceSealer {
  const mac = (time: Buffer) => createHmac('sha256', key).update(time).digest().subarray(0, MAC_BYTES)
  return {
    issue(nowSeconds) {
      const time = Buffer.alloc(TIME_BYTES)
      time.writeUIntBE(Math.floor(nowSeconds), 0, TIME_BYTES)
      return Buffer.concat([time, mac(time)]).toString('base64url')
    },
    valid(nonce, nowSeconds) {
      if (nonce.length > 64) return false
      const bytes = Buffer.from(nonce, 'base64url')
      if (bytes.length !== TIME_BYTES + MAC_BYTES) return false
      const time = bytes.subarray(0, TIME_BYTES)
      if (!timingSafeEqual(bytes.subarray(TIME_BYTES), mac(time))) return false
      const issued = time.readUIntBE(0, TIME_BYTES)
      return issued <= nowSeconds + 1 && nowSeconds - issued <= lifetimeSeconds
    },
  }
}
