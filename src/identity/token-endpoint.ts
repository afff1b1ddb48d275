import { createPrivateKey, randomUUID } from 'node:crypto'
import { SignJWT } from 'jose'
import { formEncode, readBoundedText } from '../common/bounded-body.js'
import { discoverAuthorizationServer } from '../token/discovery.js'
import { parseTokenAnswer, tokenRequestForm, TokenEndpointFailure, type IssuedToken, type TokenRequest } from './exchange-request.js'
import type { ExchangeSettings } from './settings.js'

/** Largest token endpoint answer read; a token response is a few kilobytes. */
const MAX_ANSWER_BYTES = 256 * 1024

export interface TokenEndpointClient {
  /** Asks the token endpoint; throws `TokenEndpointFailure` when no token comes back. */
  request(request: TokenRequest): Promise<IssuedToken>
  /** The token endpoint URL (configured, or from discovery), for `check`. */
  endpoint(): Promise<string>
}

/**
 * The gateway as an OAuth client of the token endpoint: the endpoint is the configured one or
 * the issuer's discovered `token_endpoint` (RFC 8414 §2, looked up once, again after a failure);
 * the client authenticates with `client_secret_basic` (RFC 6749 §2.3.1, id and secret
 * form-encoded before base64) or `private_key_jwt` (RFC 7523 §2.2, a fresh assertion per call).
 * Discovery and the call together end within `timeoutMs`.
 */
export function createTokenEndpointClient(settings: ExchangeSettings): TokenEndpointClient {
  const auth = settings.clientAuth
  const basic =
    auth.method === 'client_secret_basic'
      ? `Basic ${Buffer.from(`${formEncode(settings.clientId)}:${formEncode(auth.secret.reveal())}`).toString('base64')}`
      : undefined
  const signingKey = auth.method === 'private_key_jwt' ? createPrivateKey(auth.key.pem.reveal()) : undefined
  let discovered: Promise<string> | undefined

  function endpoint(signal?: AbortSignal): Promise<string> {
    if (settings.tokenEndpoint !== undefined) return Promise.resolve(settings.tokenEndpoint)
    discovered ??= discoverAuthorizationServer(settings.issuer, {
      timeoutMs: settings.timeoutMs,
      ...(signal === undefined ? {} : { fetch: (url, init) => fetch(url, { ...init, signal }) }),
    }).then(
      ({ metadata }) => {
        if (typeof metadata.token_endpoint !== 'string') throw new Error('the discovery document names no token_endpoint')
        return metadata.token_endpoint
      },
      (error: unknown) => {
        discovered = undefined
        throw error
      },
    )
    return discovered
  }

  async function clientAssertion(audience: string): Promise<string> {
    const key = (auth as Extract<typeof auth, { method: 'private_key_jwt' }>).key
    const now = Math.floor(Date.now() / 1000)
    return new SignJWT({})
      .setProtectedHeader({ alg: key.alg, kid: key.kid })
      .setIssuer(settings.clientId)
      .setSubject(settings.clientId)
      .setAudience(audience)
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .setJti(randomUUID())
      .sign(signingKey as NonNullable<typeof signingKey>)
  }

  return {
    endpoint: () => endpoint(),
    async request(request) {
      const signal = AbortSignal.timeout(settings.timeoutMs)
      let status: number
      let text: string
      try {
        const url = await endpoint(signal)
        const form = tokenRequestForm(settings, request)
        const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }
        if (basic !== undefined) headers['authorization'] = basic
        else {
          form.set('client_id', settings.clientId)
          form.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer')
          form.set('client_assertion', await clientAssertion(url))
        }
        // `manual`: a token request carries credentials and is never sent on to another URL.
        const response = await fetch(url, { method: 'POST', headers, body: form.toString(), signal, redirect: 'manual' })
        status = response.status
        const body = response.body === null ? '' : await readBoundedText(response.body, MAX_ANSWER_BYTES)
        if (body === undefined) throw new TokenEndpointFailure('unavailable', 'answer_too_large')
        text = body
      } catch (error) {
        if (error instanceof TokenEndpointFailure) throw error
        throw new TokenEndpointFailure('unavailable', signal.aborted ? 'timeout' : 'unreachable')
      }
      return parseTokenAnswer(status, text)
    },
  }
}

