import { describeError, headerValues, jsonRpcResponseOf, send, type ProbeResponse } from './http.js'
import { initializedNotification, openingRequest, toolsListRequest, type MessageContext, type ProbeProtocol } from './mcp-messages.js'
import { step, type ProbeStep } from './result.js'
import { parseChallenges } from './www-authenticate.js'

/**
 * Steps 7 and 8, with `--token`: the opening request and `tools/list`, authenticated. The token is
 * sent only in the Authorization header (MCP authorization §Access Token Usage) and never shown.
 */
export async function probeWithToken(url: string, protocol: ProbeProtocol, token: string, timeoutMs: number): Promise<ProbeStep[]> {
  const steps: ProbeStep[] = []
  let ctx: MessageContext = { protocol, token }
  const opening = openingRequest(ctx, 1)
  const openTitle = `Authenticated ${opening.method}`
  let response: ProbeResponse
  try {
    response = await send({ method: 'POST', url, headers: opening.headers, body: opening.body, timeoutMs })
  } catch (error) {
    return [step('authenticated', openTitle, 'fail', [`POST ${url} (${opening.method}, with the token) -> ${describeError(error)}`], 'cannot reach the endpoint')]
  }
  const saw = [`POST ${url} (${opening.method}, with the token) -> HTTP ${response.status}`]
  if (response.status !== 200) {
    steps.push(refused('authenticated', openTitle, response, saw))
    return steps
  }
  const answer = jsonRpcResponseOf(response)
  const result = answer?.result as Record<string, unknown> | undefined
  if (result === undefined) {
    const error = answer?.error as { code?: unknown; message?: unknown } | undefined
    const what = error === undefined ? 'no JSON-RPC response in the body' : `JSON-RPC error ${String(error.code)}: ${String(error.message)}`
    steps.push(step('authenticated', openTitle, 'fail', [...saw, what], 'stops: the server did not answer the opening request'))
    return steps
  }
  const sessionId = headerValues(response, 'mcp-session-id')[0]
  if (protocol === '2026-07-28') {
    const versions = Array.isArray(result.supportedVersions) ? (result.supportedVersions as unknown[]).map(String) : []
    saw.push(`supportedVersions [${versions.join(', ')}]`)
    const status = versions.includes('2026-07-28') ? 'ok' : 'warn'
    steps.push(step('authenticated', openTitle, status, saw, status === 'ok' ? 'calls methods statelessly' : 'falls back to initialize'))
  } else {
    const negotiated = typeof result.protocolVersion === 'string' ? result.protocolVersion : undefined
    const server = result.serverInfo as { name?: unknown; version?: unknown } | undefined
    saw.push(`protocolVersion ${negotiated ?? '(none)'}, server ${String(server?.name)} ${String(server?.version)}${sessionId === undefined ? '' : ', session id issued'}`)
    ctx = { ...ctx, sessionId, negotiatedVersion: negotiated }
    const note = initializedNotification(ctx)
    try {
      const ack = await send({ method: 'POST', url, headers: note.headers, body: note.body, timeoutMs })
      saw.push(`POST notifications/initialized -> HTTP ${ack.status}`)
    } catch (error) {
      saw.push(`POST notifications/initialized -> ${describeError(error)}`)
    }
    steps.push(step('authenticated', openTitle, 'ok', saw, 'is connected and lists tools next'))
  }
  steps.push(await probeToolsList(url, ctx, timeoutMs))
  if (sessionId !== undefined) await closeSession(url, ctx, timeoutMs)
  return steps
}

async function probeToolsList(url: string, ctx: MessageContext, timeoutMs: number): Promise<ProbeStep> {
  const message = toolsListRequest(ctx, 2)
  const title = 'Authenticated tools/list'
  let response: ProbeResponse
  try {
    response = await send({ method: 'POST', url, headers: message.headers, body: message.body, timeoutMs })
  } catch (error) {
    return step('tools-list', title, 'fail', [`POST ${url} (tools/list) -> ${describeError(error)}`], 'cannot list tools')
  }
  const saw = [`POST ${url} (tools/list) -> HTTP ${response.status}`]
  if (response.status !== 200) return refused('tools-list', title, response, saw)
  const result = jsonRpcResponseOf(response)?.result as { tools?: unknown } | undefined
  if (result === undefined || !Array.isArray(result.tools)) {
    return step('tools-list', title, 'fail', [...saw, 'no tools/list result in the body'], 'cannot list tools')
  }
  const names = (result.tools as { name?: unknown }[]).map((t) => String(t.name))
  return step('tools-list', title, 'ok', [...saw, `${names.length} tool${names.length === 1 ? '' : 's'}: ${names.join(', ') || '(none)'}`], 'can call the listed tools')
}

/** What a refused authenticated request means to a client: 401 re-authorizes, 403 steps up. */
function refused(id: string, title: string, response: ProbeResponse, saw: string[]): ProbeStep {
  const values = headerValues(response, 'www-authenticate')
  const params = values.flatMap((v) => parseChallenges(v)).find((c) => c.scheme.toLowerCase() === 'bearer')?.params ?? {}
  const lines = [...saw, ...values.map((v) => `WWW-Authenticate: ${v}`)]
  if (response.status === 401) {
    return step(id, title, 'fail', lines, `discards the token and authorizes again (${params.error ?? 'no error code'}): check the token's audience, issuer and expiry`)
  }
  if (response.status === 403 && params.error === 'insufficient_scope') {
    return step(id, title, 'fail', lines, `steps up: authorizes again asking for scope "${params.scope ?? ''}"`)
  }
  return step(id, title, 'fail', lines, `stops: HTTP ${response.status}`)
}

/** basic/transports §Session Management: a client that is done SHOULD end its session. */
async function closeSession(url: string, ctx: MessageContext, timeoutMs: number): Promise<void> {
  const headers: Record<string, string> = { 'mcp-session-id': ctx.sessionId as string, authorization: `Bearer ${ctx.token as string}` }
  if (ctx.negotiatedVersion !== undefined) headers['mcp-protocol-version'] = ctx.negotiatedVersion
  await send({ method: 'DELETE', url, headers, timeoutMs }).catch(() => undefined)
}
