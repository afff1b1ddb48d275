import { loadConfig } from '../config/load.js'
import { startGateway } from '../server/http.js'
import { startDemoAuthorizationServer } from './authorization-server.js'
import { demoInstructions } from './instructions.js'
import { startDemoBackend } from './mcp-backend.js'
import { reservePort } from './reserve-port.js'

export interface RunDemoOptions {
  /** 0 picks a free port (tests). */
  gatewayPort?: number
  asPort?: number
  backendPort?: number
  /** Where the instructions go; one call with the whole block. */
  log?: (text: string) => void
  /** Extra gateway settings layered over the demo's (e.g. `MCP_LOG_LEVEL`). */
  gatewayEnv?: Record<string, string>
}

export interface RunningDemo {
  /** The gateway's MCP endpoint, e.g. `http://127.0.0.1:8080/mcp`. */
  gatewayUrl: string
  /** The gateway's path-aware Protected Resource Metadata URL. */
  metadataUrl: string
  authorizationServerUrl: string
  backendUrl: string
  /** A ready access token for the gateway, scope `mcp:tools`, valid 15 minutes. */
  token: string
  close(): Promise<void>
}

const HOST = '127.0.0.1'
const SCOPE = 'mcp:tools'

interface Closable {
  close(): Promise<void>
}

async function closeAll(items: Closable[]): Promise<void> {
  // Reverse start order: the gateway goes before the servers it talks to.
  const results = await Promise.allSettled([...items].reverse().map((c) => c.close()))
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failed !== undefined) throw failed.reason
}

/**
 * Starts the whole demo on 127.0.0.1: the demo authorization server, the demo MCP backend and the
 * gateway in front of the backend, configured through the same `MCP_*` variables an operator
 * would use, then prints how to try it.
 */
export async function runDemo(options: RunDemoOptions = {}): Promise<RunningDemo> {
  const log = options.log ?? console.log
  const started: Closable[] = []
  const track = <T extends Closable>(c: T): T => {
    started.push(c)
    return c
  }
  try {
    // The canonical URI holds the gateway's port and becomes the tokens' audience (RFC 8707), so
    // it must be known before the authorization server starts.
    const gatewayPort = options.gatewayPort === 0 ? await reservePort(HOST) : (options.gatewayPort ?? 8080)
    const canonicalUri = `http://${HOST}:${gatewayPort}/mcp`

    const [as, backend] = await Promise.all([
      startDemoAuthorizationServer({ host: HOST, port: options.asPort ?? 9400, resource: canonicalUri, scopes: [SCOPE] }).then(track),
      startDemoBackend({ host: HOST, port: options.backendPort ?? 9401 }).then(track),
    ])

    const config = await loadConfig({
      env: {
        MCP_CANONICAL_URI: canonicalUri,
        MCP_AUTHORIZATION_SERVER: as.issuer,
        MCP_JWKS_URI: as.jwksUri,
        MCP_REQUIRED_SCOPE: SCOPE,
        MCP_SCOPES_SUPPORTED: SCOPE,
        MCP_BACKEND: new URL(backend.url).origin,
        MCP_LISTEN_HOST: HOST,
        MCP_LISTEN_PORT: String(gatewayPort),
        MCP_AUTH_MODE: 'jwt',
        ...options.gatewayEnv,
      },
      argv: [],
    })
    const gateway = track(await startGateway(config))
    // The gateway loads keys in the background; waiting here makes the first printed curl fast.
    await gateway.verifier.warmUp?.()

    const token = await as.mintToken({ scope: SCOPE })
    // RFC 9728 §3.1: the metadata URL for a resource with a path inserts the well-known segment
    // between host and path.
    const metadataUrl = `http://${HOST}:${gatewayPort}/.well-known/oauth-protected-resource/mcp`

    log(
      demoInstructions({
        mcpUrl: canonicalUri,
        metadataUrl,
        authorizationServerUrl: as.url,
        tokenEndpoint: as.tokenEndpoint,
        backendUrl: backend.url,
        token,
        scope: SCOPE,
        tokenLifetimeMinutes: 15,
      }),
    )

    return {
      gatewayUrl: canonicalUri,
      metadataUrl,
      authorizationServerUrl: as.url,
      backendUrl: backend.url,
      token,
      close: () => closeAll(started),
    }
  } catch (err) {
    await closeAll(started).catch(() => undefined)
    throw err
  }
}
