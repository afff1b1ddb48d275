import { evaluatePkce, probeAuthorizationServer } from './authorization-server-step.js'
import { probeUnauthenticated } from './challenge-step.js'
import type { ProbeProtocol } from './mcp-messages.js'
import { evaluateResourceMatch, probeResourceMetadata } from './resource-metadata-step.js'
import { skipped, type ProbeReport, type ProbeStep } from './result.js'
import { probeWithToken } from './session-step.js'

export interface ProbeOptions {
  /** The MCP endpoint, exactly as a client is configured with it. */
  url: string
  /** An access token for the authenticated steps; without it they are left out. */
  token?: string | undefined
  protocol?: ProbeProtocol
  /** Per HTTP exchange. */
  timeoutMs?: number
}

/**
 * Walks an MCP endpoint the way a strict client connects (MCP authorization 2025-11-25
 * §Authorization Flow Steps): 401 and its challenge, protected resource metadata, `resource`
 * against the endpoint, authorization server metadata, PKCE; then, with a token, the opening
 * request and `tools/list`. Every step runs that can, so one report shows every problem.
 */
export async function runProbe(options: ProbeOptions): Promise<ProbeReport> {
  const protocol = options.protocol ?? '2025-11-25'
  const timeoutMs = options.timeoutMs ?? 10_000
  const { url } = options
  const steps: ProbeStep[] = []

  const challenge = await probeUnauthenticated(url, protocol, timeoutMs)
  steps.push(...challenge.steps)

  const prm = await probeResourceMetadata(url, challenge.resourceMetadata, challenge.scope, protocol, timeoutMs)
  steps.push(prm.step)

  const issuer = prm.document?.authorization_servers[0]
  if (prm.document === undefined || issuer === undefined) {
    const because = 'no protected resource metadata'
    steps.push(
      skipped('resource-match', 'resource matches the endpoint', because),
      skipped('authorization-server', 'Authorization server metadata', because),
      skipped('pkce', 'PKCE support', because),
    )
  } else {
    steps.push(evaluateResourceMatch(url, prm.document.resource))
    const as = await probeAuthorizationServer(issuer, protocol, timeoutMs)
    steps.push(as.step)
    steps.push(as.metadata === undefined ? skipped('pkce', 'PKCE support', 'no authorization server metadata') : evaluatePkce(as.metadata))
  }

  if (options.token !== undefined) steps.push(...(await probeWithToken(url, protocol, options.token, timeoutMs)))
  return { url, protocolVersion: protocol, steps, passed: steps.every((s) => s.status !== 'fail') }
}
