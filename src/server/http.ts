import { readFileSync } from 'node:fs'
import { createServer as createHttpServer, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { Config } from '../config/normalize.js'
import { createForwarder } from '../proxy/forward.js'
import { createRateLimiter } from '../ratelimit/limiter.js'
import { createVerifier } from '../token/create-verifier.js'
import type { TokenVerifier } from '../token/principal.js'
import { createMcpAuthorizer } from './mcp-authorizer.js'
import { createGatewayHandler, type GatewayParts } from './pipeline.js'

export interface RunningGateway {
  /** Base URL the gateway listens on (`http://127.0.0.1:8080`). */
  url: string
  server: Server
  verifier: TokenVerifier
  close(): Promise<void>
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
  const verifier = options.parts?.verifier ?? createVerifier(config)
  const forwarder =
    options.parts?.forwarder ??
    createForwarder({
      ...config.backend,
      resourcePath: config.resource.path,
    })
  const rateLimiter = options.parts?.admit === undefined ? createRateLimiter(config) : undefined
  const handler = createGatewayHandler({
    config,
    verifier,
    forwarder,
    authorizer: options.parts?.authorizer ?? createMcpAuthorizer(config),
    extraRoutes: options.parts?.extraRoutes,
    admit: options.parts?.admit ?? rateLimiter,
  })

  const server = config.tls.enabled
    ? createHttpsServer(
        {
          cert: readFileSync(config.tls.certFile as string),
          key: readFileSync(config.tls.keyFile as string),
          minVersion: config.tls.minVersion === '1.3' ? 'TLSv1.3' : 'TLSv1.2',
        },
        handler,
      )
    : createHttpServer(handler)
  // Long SSE streams must not be cut by the server's own timeouts; the backend decides.
  server.requestTimeout = 0
  server.keepAliveTimeout = 65_000

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(config.listen.port, config.listen.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  void verifier.warmUp?.()

  const address = server.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return {
    url: `${config.tls.enabled ? 'https' : 'http'}://${host}:${address.port}`,
    server,
    verifier,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeIdleConnections()
      })
      await forwarder.close()
      await verifier.close?.()
      await rateLimiter?.close()
    },
  }
}
