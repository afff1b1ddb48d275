import type { IncomingMessage } from 'node:http'
import { rawHeaderValues } from '../common/raw-header.js'
import { GatewayError, InvalidDpopProof, InvalidToken, UseDpopNonce } from '../errors.js'
import type { Credentials } from './bearer.js'
import { clientCertificateThumbprint, type ClientCertificateSource } from './client-certificate.js'
import type { NonceSealer } from './dpop-nonce.js'
import { checkDpopProof } from './dpop-proof.js'
import type { Principal } from './principal.js'
import type { ReplayCache } from './replay-cache.js'
import type { SenderConstraintSettings } from './sender-constraint-config.js'

/**
 * The binding rule for sender-constrained tokens (RFC 7800 `cnf`): a token bound to a DPoP key
 * (`cnf.jkt`, RFC 9449 §6) is accepted only with the `DPoP` scheme and a valid proof made with
 * that key; a token bound to a certificate (`cnf.x5t#S256`, RFC 8705 §3) only with that client
 * certificate. Anything else would make a stolen bound token a bearer token again.
 */

/** What a token is bound to, read from a JWT's claims or an introspection answer. */
export interface TokenBinding {
  /** RFC 9449 §6.1 `cnf.jkt`. */
  readonly jkt: string | undefined
  /** RFC 8705 §3.1 `cnf.x5t#S256`. */
  readonly x5t: string | undefined
  /** Bound to a DPoP key: `cnf.jkt`, or an introspection `token_type` of `DPoP` (RFC 9449 §6.2). */
  readonly dpop: boolean
}

export function readBinding(claims: Readonly<Record<string, unknown>>): TokenBinding | undefined {
  const cnf = claims['cnf']
  const tokenType = claims['token_type']
  const dpopType = typeof tokenType === 'string' && tokenType.toLowerCase() === 'dpop'
  if ((typeof cnf !== 'object' || cnf === null) && !dpopType) return undefined
  const members = (typeof cnf === 'object' && cnf !== null ? cnf : {}) as Record<string, unknown>
  const jkt = members['jkt']
  const x5t = members['x5t#S256']
  if (jkt === undefined && x5t === undefined && !dpopType) return undefined
  return {
    // A member of another type binds the token to something no request can show: it is kept, and fails.
    jkt: jkt === undefined ? undefined : typeof jkt === 'string' ? jkt : '',
    x5t: x5t === undefined ? undefined : typeof x5t === 'string' ? x5t : '',
    dpop: jkt !== undefined || dpopType,
  }
}

export interface SenderConstraintOptions {
  settings: SenderConstraintSettings
  /** Whose `forwardedCertificateHeader` is believed (`MCP_TRUSTED_PROXIES`); default: nobody's. */
  isTrustedPeer?: (address: string) => boolean
  /** The canonical URI's origin: `htu` is checked against it, so TLS termination in front changes nothing. */
  canonicalOrigin: string
  /** Owned by the caller, which closes it (it may outlive this object across reloads). */
  replay: ReplayCache
  /** Set when `nonce` is on: proofs must carry a nonce it issued (RFC 9449 §9). */
  nonces?: NonceSealer | undefined
  /** Milliseconds since the epoch (tests). Default `Date.now`. */
  now?: () => number
}

export interface SenderConstraint {
  /**
   * Throws a `GatewayError` unless the request proves possession of what the token is bound to.
   * Returns `undefined` when nothing needs awaiting (an unbound Bearer token: no promise).
   */
  check(req: IncomingMessage, credentials: Credentials, principal: Principal): Promise<void> | undefined
}

export function createSenderConstraint(options: SenderConstraintOptions): SenderConstraint {
  const { settings, replay } = options
  const now = options.now ?? Date.now
  const dpopRequired = settings.dpop === 'required'
  const replayTtlMs = 2 * settings.proofMaxAgeSeconds * 1000
  const certificates: ClientCertificateSource = {
    forwardedHeader: settings.forwardedCertificateHeader,
    isTrustedPeer: options.isTrustedPeer ?? (() => false),
  }

  function checkCertificate(req: IncomingMessage, x5t: string): void {
    if (settings.mtls === 'off') {
      throw new InvalidToken('certificate_mismatch', 'Certificate-bound tokens are not accepted here')
    }
    if (x5t === '' || clientCertificateThumbprint(req, certificates) !== x5t) {
      throw new InvalidToken('certificate_mismatch', 'The client certificate does not match the token binding')
    }
  }

  async function checkProof(req: IncomingMessage, token: string, jkt: string): Promise<void> {
    const header = rawHeaderValues(req.rawHeaders, 'dpop')
    if (header === undefined) throw new InvalidDpopProof('invalid_dpop_proof', 'A DPoP proof is required')
    if (Array.isArray(header)) throw new InvalidDpopProof('invalid_dpop_proof', 'Send exactly one DPoP header')
    const nowSeconds = Math.floor(now() / 1000)
    const proof = await checkDpopProof(header, {
      method: req.method ?? '',
      uri: `${options.canonicalOrigin}${new URL(req.url ?? '/', options.canonicalOrigin).pathname}`,
      accessToken: token,
      algorithms: settings.dpopAlgorithms,
      maxAgeSeconds: settings.proofMaxAgeSeconds,
      nowSeconds,
    })
    // RFC 9449 §9: a missing, foreign or stale nonce is answered with a fresh one to retry with.
    const nonces = options.nonces
    if (nonces !== undefined && (proof.nonce === undefined || !nonces.valid(proof.nonce, nowSeconds))) {
      throw new UseDpopNonce(nonces.issue(nowSeconds))
    }
    // RFC 9449 §7.1: a proof by another key than the token's is a key-binding failure of the token.
    if (proof.jkt !== jkt) throw new InvalidToken('dpop_key_mismatch', 'The DPoP proof key does not match the token binding')
    let first: boolean
    try {
      first = await replay.firstUse(proof.jkt, proof.jti, replayTtlMs)
    } catch (error) {
      if (settings.replayCacheOnError === 'allow') return
      throw new GatewayError(503, 'replay_cache_unavailable', 'DPoP replay protection is temporarily unavailable', undefined, {
        cause: error,
        retryAfter: 5,
      })
    }
    if (!first) throw new InvalidDpopProof('dpop_replay', 'The DPoP proof was already used')
  }

  return {
    check(req, credentials, principal) {
      const binding = readBinding(principal.claims)
      if (credentials.scheme === 'Bearer') {
        if (binding?.dpop === true) {
          throw new InvalidToken('bound_token_as_bearer', 'This token is bound to a DPoP key and needs the DPoP scheme')
        }
        if (dpopRequired) throw new InvalidToken('dpop_required', 'This resource accepts DPoP-bound tokens only', { scheme: 'DPoP' })
        if (binding?.x5t !== undefined) checkCertificate(req, binding.x5t)
        return undefined
      }
      if (binding?.jkt === undefined || binding.jkt === '') {
        throw new InvalidToken('unbound_token_as_dpop', 'The token is not bound to a DPoP key')
      }
      if (binding.x5t !== undefined) checkCertificate(req, binding.x5t)
      return checkProof(req, credentials.token, binding.jkt)
    },
  }
}

