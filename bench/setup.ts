import { chmodSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { spawnChild, type Child } from './child-process.js'
import { startGatewayProcess, type GatewayLaunch, type GatewayProcess } from './gateway-process.js'
import { startIntrospectionServer, type IntrospectionServer } from './introspection-server.js'
import { accessTokenClaims, signJwt, type BenchKey, type BenchKeys } from './keys.js'
import { callOnce } from './requests.js'

/** The issuer the bench tokens name; keys come from a JWKS file, so nothing is fetched. */
export const ISSUER = 'https://as.bench.example'
/** Scopes every bench token holds: what plain JWT mode requires plus the per-method scopes. */
export const TOKEN_SCOPE = 'mcp mcp:tools:read mcp:tools:call'
/** Distinct tokens per target: a fixed set, so after warm-up every request is a cache hit. */
export const TOKEN_SET_SIZE = 16

export interface Backend {
  readonly child: Child
  /** `http://127.0.0.1:<port>` */
  readonly origin: string
}

export async function startBackend(): Promise<Backend> {
  const child = spawnChild('backend', process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'backend-child.ts')])
  const line = await child.waitForLine((l) => l.startsWith('{"ready":true'))
  const { url } = JSON.parse(line) as { url: string }
  return { child, origin: new URL(url).origin }
}

/** `MCP_*` settings shared by every gateway scenario. */
export function baseGatewayEnv(backend: Backend, keys: BenchKeys): Record<string, string> {
  return {
    MCP_AUTHORIZATION_SERVER: ISSUER,
    MCP_JWT_KEY_FILE: keys.jwksFile,
    MCP_BACKEND: new URL(backend.origin).host,
    MCP_REQUIRED_SCOPE: 'mcp',
  }
}

export function mintTokens(key: BenchKey, audience: string, count: number, scope = TOKEN_SCOPE): string[] {
  const out: string[] = []
  for (let i = 0; i < count; i++) {
    out.push(signJwt(key.alg, key.kid, key.privateKey, accessTokenClaims(ISSUER, audience, scope, `user-${i}`, 3600)))
  }
  return out
}

export interface Skip {
  readonly id: string
  readonly label: string
  readonly reason: string
}

export type Started<T> = { ok: true; value: T } | { ok: false; reason: string }

/** Starts a gateway; a configuration the gateway refuses (a feature not there yet) is a skip. */
export async function tryGateway(name: string, launch: GatewayLaunch): Promise<Started<GatewayProcess>> {
  try {
    return { ok: true, value: await startGatewayProcess(name, launch) }
  } catch (error) {
    return { ok: false, reason: firstProblem((error as Error).message) }
  }
}

function firstProblem(message: string): string {
  const lines = message.split('\n').map((l) => l.trim()).filter((l) => l !== '')
  const problem = lines.find((l) => /MCP_|config|expected|unknown|invalid|not /i.test(l) && !l.startsWith('at '))
  return (problem ?? lines[0] ?? 'unknown error').slice(0, 300)
}

/**
 * Introspection mode (issue 4's variables: MCP_AUTH_MODE=introspect, MCP_INTROSPECT_ENDPOINT,
 * MCP_CLIENT_ID, MCP_CLIENT_SECRET_FILE). Opaque tokens are registered with the local endpoint
 * after the gateway starts, once its canonical URI (the `aud` they must carry) is known.
 */
export async function startIntrospectionGateway(
  backend: Backend,
  dir: string,
  launch: Omit<GatewayLaunch, 'env'>,
): Promise<Started<{ gateway: GatewayProcess; tokens: string[]; server: IntrospectionServer }>> {
  const server = await startIntrospectionServer()
  const secretFile = join(dir, 'introspection-secret')
  writeFileSync(secretFile, 'bench-secret\n')
  chmodSync(secretFile, 0o600)
  const started = await tryGateway('gateway-introspection', {
    ...launch,
    env: {
      MCP_AUTHORIZATION_SERVER: ISSUER,
      MCP_AUTH_MODE: 'introspect',
      MCP_INTROSPECT_ENDPOINT: server.url,
      MCP_CLIENT_ID: 'bench-gateway',
      MCP_CLIENT_SECRET_FILE: secretFile,
      MCP_BACKEND: new URL(backend.origin).host,
      MCP_REQUIRED_SCOPE: 'mcp',
    },
  })
  if (!started.ok) {
    await server.close()
    return started
  }
  const gateway = started.value
  const audience = `${gateway.url}/mcp`
  const tokens: string[] = []
  const now = Math.floor(Date.now() / 1000)
  for (let i = 0; i < TOKEN_SET_SIZE; i++) {
    const token = randomBytes(32).toString('base64url')
    server.register(token, {
      iss: ISSUER,
      aud: audience,
      sub: `user-${i}`,
      client_id: 'bench-client',
      scope: TOKEN_SCOPE,
      exp: now + 3600,
      iat: now,
    })
    tokens.push(token)
  }
  const probe = await callOnce(gateway.url, tokens[0] as string, 'tools/list')
  if (probe.status !== 200) {
    await gateway.child.stop()
    await server.close()
    return { ok: false, reason: `an introspected token got ${probe.status} instead of 200` }
  }
  return { ok: true, value: { gateway, tokens, server } }
}

/**
 * Issue 3's per-tool scopes and list filtering, switched on by the config file. The tokens hold
 * `mcp:tools:call` but not `bench:math`, so `add` must be refused and missing from `tools/list`;
 * the probe says whether the gateway enforces it (the keys may be accepted before they are wired).
 */
export const POLICY_YAML = `# generated by bench/setup.ts: per-method and per-tool scopes, filtered lists
scopes:
  required: [mcp]
  methods:
    tools/list: [mcp:tools:read]
    tools/call: [mcp:tools:call]
  tools:
    add: [bench:math]
  filterLists: true
`

export async function probePolicy(origin: string, token: string): Promise<{ enforced: boolean; detail: string }> {
  const call = await callOnce(origin, token, 'tools/call', { name: 'add', arguments: { a: 1, b: 2 } })
  const list = await callOnce(origin, token, 'tools/list')
  const names = toolNames(list.body)
  const refused = call.status === 403
  const filtered = list.status === 200 && names !== undefined && names.includes('echo') && !names.includes('add')
  return {
    enforced: refused && filtered,
    detail: `tools/call add -> ${call.status} (want 403); tools/list -> ${list.status} [${(names ?? []).join(', ')}] (want echo without add)`,
  }
}

function toolNames(body: unknown): string[] | undefined {
  const tools = (body as { result?: { tools?: { name?: unknown }[] } } | undefined)?.result?.tools
  return Array.isArray(tools) ? tools.map((t) => String(t.name)) : undefined
}
