import { Agent, request } from 'undici'
import { formEncode, readBoundedText } from '../common/bounded-body.js'
import { IntrospectionFailure, MAX_ANSWER_BYTES, parseIntrospectionAnswer, type IntrospectionAnswer } from './introspection-answer.js'
import type { Secret } from '../common/secret-file.js'

export interface IntrospectionClientOptions {
  clientId: string
  clientSecret: Secret
  authMethod: 'client_secret_basic' | 'client_secret_post'
  /** Milliseconds for the whole call (connect, headers and body). */
  timeout: number
}

export interface IntrospectionClient {
  /** Asks `endpoint` about `token`; throws `IntrospectionFailure` when no answer can be used. */
  introspect(endpoint: string, token: string): Promise<IntrospectionAnswer>
  close(): Promise<void>
}

/**
 * The RFC 7662 §2.1 call: a form POST with `token` and `token_type_hint=access_token`, the client
 * authenticated as RFC 6749 §2.3.1 says: `client_secret_basic` form-encodes the id and secret
 * before base64 (nginx-mcp-resource does not, which breaks secrets with `:` or `%`), or
 * `client_secret_post` sends them in the body. Connections are kept alive in a pool of its own.
 */
export function createIntrospectionClient(options: IntrospectionClientOptions): IntrospectionClient {
  const dispatcher = new Agent({ keepAliveTimeout: 30_000, connections: 64 })
  const secret = options.clientSecret.reveal()
  const basic =
    options.authMethod === 'client_secret_basic'
      ? `Basic ${Buffer.from(`${formEncode(options.clientId)}:${formEncode(secret)}`).toString('base64')}`
      : undefined

  return {
    async introspect(endpoint, token) {
      const form = new URLSearchParams({ token, token_type_hint: 'access_token' })
      if (basic === undefined) {
        form.set('client_id', options.clientId)
        form.set('client_secret', secret)
      }
      const headers: Record<string, string> = {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      }
      if (basic !== undefined) headers['authorization'] = basic
      const signal = AbortSignal.timeout(options.timeout)
      let status: number
      let body: string
      try {
        const response = await request(endpoint, {
          method: 'POST',
          headers,
          body: form.toString(),
          dispatcher,
          signal,
          headersTimeout: options.timeout,
          bodyTimeout: options.timeout,
        })
        status = response.statusCode
        if (status !== 200) {
          // Read and dropped (bounded) so the connection can be reused; the body is never looked at.
          await response.body.dump({ limit: MAX_ANSWER_BYTES }).catch(() => undefined)
          throw new IntrospectionFailure(describeStatus(status))
        }
        const text = await readBoundedText(response.body, MAX_ANSWER_BYTES)
        if (text === undefined) throw new IntrospectionFailure(`the response is larger than ${MAX_ANSWER_BYTES} bytes`)
        body = text
      } catch (error) {
        if (error instanceof IntrospectionFailure) throw error
        throw new IntrospectionFailure(describeNetworkError(error, signal))
      }
      return parseIntrospectionAnswer(status, body)
    },
    async close() {
      await dispatcher.close()
    },
  }
}

function describeStatus(status: number): string {
  if (status === 401 || status === 403) {
    return `HTTP ${status}: the authorization server refused the gateway's client credentials (check the client id, the secret file and the auth method)`
  }
  return `HTTP ${status}`
}

/** The error's code or name only: messages of some errors quote the URL, never the token, but stay terse. */
function describeNetworkError(error: unknown, signal: AbortSignal): string {
  if (signal.aborted) return 'timed out'
  const e = error as { code?: unknown; cause?: { code?: unknown }; name?: unknown }
  const code = typeof e.code === 'string' ? e.code : typeof e.cause?.code === 'string' ? e.cause.code : undefined
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'timed out'
  return `unreachable (${code ?? (typeof e.name === 'string' ? e.name : 'error')})`
}
