import { readFileSync } from 'node:fs'
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https'
import type { SecureContextOptions } from 'node:tls'
import type { Config } from '../config/normalize.js'
import { relayScopeChallenge } from '../metadata/challenge.js'
import { createUpstreamIdentity } from './upstream-identity.js'
import { jwksHandler } from '../identity/jwks.js'
import { JWKS_PATH, type UpstreamIdentity } from '../identity/upstream-identity.js'
import { createForwarder } from '../proxy/forward.js'
import { createRateLimiter, type RateLimiter } from '../ratelimit/limiter.js'
import { createConfiguredReplayCache, createConfiguredSenderConstraint, replayCacheIdentity } from './sender-constraint.js'
import { createVerifier, reloadVerifier } from '../token/create-verifier.js'
import { createLockout, type Lockout } from '../lockout/lockout.js'
import { createRevocations, type Revocations } from '../revocation/revocations.js'
import type { TokenVerifier } from '../token/principal.js'
import type { ReplayCache } from '../token/replay-cache.js'
import { createConnectionCap, type ConnectionCap } from './connection-cap.js'
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
  /** This process's revocations (shared through Redis when it is set); kept across reloads. */
  readonly revocations: Revocations
  /** The failed-authentication lockout, when `authFailures.limit` is set (built at start). */
  readonly lockout: Lockout | undefined
  /**
   * Builds every part from `next` and swaps them in behind the same listener: connections stay
   * open, requests in flight finish on the old parts. Issuers whose settings did not change keep
   * their keys and caches; a changed one keeps its running verifier while its new keys cannot load. Listen address and TLS on/off need a
   * restart. Throws, keeping everything as it was, when the new TLS files cannot be used.
   */
  reload(next: Config): Promise<void>
  /** What `/readyz` says: keys loaded, the backend reachable, the shared revocations read once. */
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
  const cap = createConnectionCap(config.limits.maxConnections)
  // The DPoP replay cache outlives reloads that leave it unchanged (see replayCacheIdentity).
  let replay = createConfiguredReplayCache(config)
  let replayIdentity = replayCacheIdentity(config)
  // Process state, not configuration: built once, handed to every set of parts a reload builds.
  const revocations = options.parts?.revocations ?? createRevocations({ redis: config.redis })
  const lockout = options.parts?.lockout ?? createLockout({ settings: config.authFailures, trustedProxies: config.trustedProxies, redis: config.redis })
  const state = { revocations, lockout }
  let parts = buildParts(config, options, cap, replay, state)
  // A revocation purges the token caches at once (the check after them would refuse anyway).
  revocations.onRevoked((matches) => parts.verifier.forget?.(matches))
  const closeState = async () => {
    await revocations.close()
    await lockout?.close()
    await replay.close()
  }
  // One listener for the server's life: a reload swaps what it calls, never the sockets.
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    if (config.tls.enabled) res.setHeader('strict-transport-security', HSTS)
    parts.handler(req, res)
  }
  const timeouts = receiveTimeouts(config.limits.requestTimeout)
  const server = config.tls.enabled
    ? createHttpsServer({ ...secureContextOptions(config), ...clientCertificateOptions(config), ...timeouts }, listener)
    : createHttpServer(timeouts, listener)
  server.on('connection', cap.accept)
  server.keepAliveTimeout = 65_000

  let bound: BoundAddress
  try {
    bound = await listen(server, config.listen.port, config.listen.host)
  } catch (error) {
    // A port in use must not leave the backend pool or a Redis client keeping the process alive.
    await closeParts(parts)
    await closeState()
    throw error
  }
  void parts.verifier.warmUp?.()

  return {
    url: `${config.tls.enabled ? 'https' : 'http'}://${bound.host}:${bound.port}`,
    server,
    get verifier() {
      return parts.verifier
    },
    revocations,
    lockout,
    async reload(next) {
      const keepReplay = replayCacheIdentity(next) === replayIdentity
      const nextReplay = keepReplay ? replay : createConfiguredReplayCache(next)
      try {
        // Certificates renewed on disk are picked up for new connections; open ones keep theirs.
        if (config.tls.enabled && next.tls.enabled) (server as unknown as HttpsServer).setSecureContext(secureContextOptions(next))
      } catch (error) {
        if (!keepReplay) await nextReplay.close()
        throw new Error(`TLS certificate or key: ${(error as Error).message}`, { cause: error })
      }
      // Issuers whose settings did not change keep their keys and caches; changed ones are in
      // place once their keys load (src/token/create-verifier.ts).
      const verifier = options.parts?.verifier ?? (await reloadVerifier(parts.verifier, next))
      const fresh = buildParts(next, options, cap, nextReplay, state, verifier)
      const old = parts
      parts = fresh
      // The forwarder's close waits for the requests (and streams) still running on the old parts.
      void closeParts(old)
      if (!keepReplay) void replay.close()
      replay = nextReplay
      replayIdentity = replayCacheIdentity(next)
    },
    async ready() {
      // A replica that has not read the shared revocations yet could let a revoked token in.
      if (!revocations.set.loaded()) return false
      return (parts.verifier.ready?.() ?? true) && (await parts.forwarder.reachable())
    },
    async close(closeOptions = {}) {
      await drainServer(server, closeOptions.timeoutMs ?? config.shutdownTimeout)
      await closeParts(parts)
      await closeState()
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
  identity: UpstreamIdentity | undefined
}

/**
 * Node bounds the time to receive a request (head and body) and stops the clock once the request
 * is in, so a response may stream for as long as the backend keeps it open (SSE). These go to
 * `createServer`: on Node 20, `requestTimeout` set on a created server did not take effect. Expiry
 * is checked every `connectionsCheckingInterval` (node's default, 30 s, would double a 30 s limit).
 */
function receiveTimeouts(requestTimeout: number): { requestTimeout: number; connectionsCheckingInterval: number } {
  return { requestTimeout, connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(requestTimeout / 4))) }
}

function buildParts(
  config: Config,
  options: StartOptions,
  cap: ConnectionCap,
  replay: ReplayCache,
  state: Pick<GatewayParts, 'revocations' | 'lockout'>,
  verifier = options.parts?.verifier ?? createVerifier(config),
): Parts {
  const forwarder =
    options.parts?.forwarder ??
    createForwarder({
      ...config.backend,
      resourcePath: config.resource.path,
      relayChallenge: (values) => relayScopeChallenge(values, config.resource.metadataUri),
      // The client certificate a trusted proxy forwards is the gateway's to read, not the backend's.
      neverUpstream: config.senderConstraint.forwardedCertificateHeader === undefined ? [] : [config.senderConstraint.forwardedCertificateHeader],
    })
  const rateLimiter = options.parts?.admit === undefined ? createRateLimiter(config) : undefined
  const senderConstraint = options.parts?.senderConstraint ?? createConfiguredSenderConstraint(config, replay)
  const identity = options.parts?.identity ?? createUpstreamIdentity(config)
  let extraRoutes = options.parts?.extraRoutes
  // The assertion keys on the main port too, so a backend that reaches only the gateway can verify.
  if (identity?.jwks !== undefined) extraRoutes = new Map([...(extraRoutes ?? []), [JWKS_PATH, jwksHandler(identity.jwks)]])
  const handler = createGatewayHandler({
    config,
    verifier,
    forwarder,
    authorizer: options.parts?.authorizer ?? createMcpAuthorizer(config, config.backend.protocolVersions),
    extraRoutes,
    admit: options.parts?.admit ?? rateLimiter,
    authenticated: (req) => cap.authenticated(req.socket),
    senderConstraint,
    identity,
    ...state,
  })
  return { verifier, forwarder, handler, rateLimiter, identity }
}

async function closeParts(parts: Parts): Promise<void> {
  await parts.forwarder.close()
  await parts.verifier.close?.()
  await parts.rateLimiter?.close()
  await parts.identity?.close?.()
}

/** Cert and key are read at start and on every reload; `minVersion` 1.2 unless 1.3 is asked for. */
function secureContextOptions(config: Config): SecureContextOptions {
  return {
    cert: readFileSync(config.tls.certFile as string),
    key: readFileSync(config.tls.keyFile as string),
    minVersion: config.tls.minVersion === '1.3' ? 'TLSv1.3' : 'TLSv1.2',
    ...(config.tls.clientCaFile === undefined ? {} : { ca: readFileSync(config.tls.clientCaFile) }),
  }
}

/**
 * RFC 8705 §3: with a client CA, certificates are asked for; only `mtls: required` makes the
 * handshake refuse a client without one. An unverified certificate never binds (client-certificate.ts).
 */
function clientCertificateOptions(config: Config): { requestCert: boolean; rejectUnauthorized: boolean } {
  const requestCert = config.tls.clientCaFile !== undefined
  return { requestCert, rejectUnauthorized: requestCert && config.senderConstraint.mtls === 'required' }
}
