import { readFileSync } from 'node:fs'
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https'
import type { SecureContextOptions } from 'node:tls'
import type { Config } from '../config/normalize.js'
import { createUpstreamIdentity } from '../identity/create-identity.js'
import { jwksHandler } from '../identity/jwks.js'
import { JWKS_PATH } from '../identity/upstream-identity.js'
import { createForwarder } from '../proxy/forward.js'
import { createRateLimiter, type RateLimiter } from '../ratelimit/limiter.js'
import { createVerifier } from '../token/create-verifier.js'
import type { TokenVerifier } from '../token/principal.js'
import { drainServer } from './lifecycle.js'
import { createMcpAuthorizer } from './mcp-authorizer.js'
import { listen, type BoundAddress } from './listen.js'
import { createGatewayHandler, type GatewayParts } from './pipeline.js'

export interface RunningGateway {
  /** Base URL the gateway listens on (`http://127.0.0.1:8080`). */
  url: string
  server: Server
  /** The verifier in use (a reload replaces it). */
  readonly verifier: TokenVerifier
  /**
   * Builds every part from `next` and swaps them in behind the same listener: connections stay
   * open, requests in flight finish on the old parts. Listen address and TLS on/off need a
   * restart. Throws, keeping everything as it was, when the new TLS files cannot be used.
   */
  reload(next: Config): Promise<void>
  /** What `/readyz` says: keys loaded and the backend reachable. */
  ready(): Promise<boolean>
  /**
   * Stops accepting, lets requests in flight and SSE streams finish for up to `timeoutMs`
   * (default: the configured `shutdownTimeout`), then closes the rest.
   */
  close(options?: { timeoutMs?: number }): Promise<void>
}

export interface StartOptions {
  /** Replaces parts (tests, library users): a verifier, extra routes, an admission check. */
  parts?: Partial<Omit<GatewayParts, 'config'>>
}

/**
 * Builds every part from the configuration, starts listening, and loads keys in the background
 * (an authorization server that is down at start makes `/readyz` fail, not the process).
 */
export async function startGateway(config: Config, options: StartOptions = {}): Promise<RunningGateway> {
  let parts = buildParts(config, options)
  // One listener for the server's life: a reload swaps what it calls, never the sockets.
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    if (config.tls.enabled) res.setHeader('strict-transport-security', HSTS)
    parts.handler(req, res)
  }
  const server = config.tls.enabled ? createHttpsServer(secureContextOptions(config), listener) : createHttpServer(listener)
  // Long SSE streams must not be cut by the server's own timeouts; the backend decides.
  server.requestTimeout = 0
  server.keepAliveTimeout = 65_000

  let bound: BoundAddress
  try {
    bound = await listen(server, config.listen.port, config.listen.host)
  } catch (error) {
    // A port in use must not leave the backend pool or a Redis client keeping the process alive.
    await closeParts(parts)
    throw error
  }
  void parts.verifier.warmUp?.()

  return {
    url: `${config.tls.enabled ? 'https' : 'http'}://${bound.host}:${bound.port}`,
    server,
    get verifier() {
      return parts.verifier
    },
    async reload(next) {
      const fresh = buildParts(next, options)
      try {
        // Certificates renewed on disk are picked up for new connections; open ones keep theirs.
        if (config.tls.enabled && next.tls.enabled) (server as unknown as HttpsServer).setSecureContext(secureContextOptions(next))
      } catch (error) {
        await closeParts(fresh)
        throw new Error(`TLS certificate or key: ${(error as Error).message}`, { cause: error })
      }
      await fresh.verifier.warmUp?.()
      const old = parts
      parts = fresh
      // The forwarder's close waits for the requests (and streams) still running on the old parts.
      void closeParts(old)
    },
    async ready() {
      return (parts.verifier.ready?.() ?? true) && (await parts.forwarder.reachable())
    },
    async close(closeOptions = {}) {
      await drainServer(server, closeOptions.timeoutMs ?? config.shutdownTimeout)
      await closeParts(parts)
    },
  }
}

/** RFC 6797 §6.1: sent on every response when the gateway itself serves HTTPS. */
const HSTS = 'max-age=31536000; includeSubDomains'

interface Parts {
  verifier: TokenVerifier
  forwarder: ReturnType<typeof createForwarder>
  handler: (req: IncomingMessage, res: ServerResponse) => void
  rateLimiter: RateLimiter | undefined
}

function buildParts(config: Config, options: StartOptions): Parts {
  const verifier = options.parts?.verifier ?? createVerifier(config)
  const forwarder =
    options.parts?.forwarder ??
    createForwarder({
      ...config.backend,
      resourcePath: config.resource.path,
    })
  const rateLimiter = options.parts?.admit === undefined ? createRateLimiter(config) : undefined
  const identity = options.parts?.identity ?? createUpstreamIdentity(config)
  let extraRoutes = options.parts?.extraRoutes
  // The assertion keys on the main port too, so a backend that reaches only the gateway can verify.
  if (identity?.jwks !== undefined) extraRoutes = new Map([...(extraRoutes ?? []), [JWKS_PATH, jwksHandler(identity.jwks)]])
  const handler = createGatewayHandler({
    config,
    verifier,
    forwarder,
    authorizer: options.parts?.authorizer ?? createMcpAuthorizer(config),
    extraRoutes,
    admit: options.parts?.admit ?? rateLimiter,
    identity,
  })
  return { verifier, forwarder, handler, rateLimiter }
}

async function closeParts(parts: Parts): Promise<void> {
  await parts.forwarder.close()
  await parts.verifier.close?.()
  await parts.rateLimiter?.close()
}

/** Cert and key are read at start and on every reload; `minVersion` 1.2 unless 1.3 is asked for. */
function secureContextOptions(config: Config): SecureContextOptions {
  return {
    cert: readFileSync(config.tls.certFile as string),
    key: readFileSync(config.tls.keyFile as string),
    minVersion: config.tls.minVersion === '1.3' ? 'TLSv1.3' : 'TLSv1.2',
  }
}
