import { DEMO_CLIENT_ID, DEMO_CLIENT_SECRET } from './authorization-server.js'

export interface DemoInstructionsInput {
  /** The gateway's MCP endpoint (the canonical URI). */
  mcpUrl: string
  /** The gateway's path-aware Protected Resource Metadata URL (RFC 9728 §3.1). */
  metadataUrl: string
  authorizationServerUrl: string
  tokenEndpoint: string
  /** The backend's own MCP endpoint (no auth: for comparison only). */
  backendUrl: string
  token: string
  scope: string
  tokenLifetimeMinutes: number
}

const MCP_HEADERS = [
  `-H 'Content-Type: application/json'`,
  `-H 'Accept: application/json, text/event-stream'`,
  // 2025-11-25 requests after initialize carry this header (basic/transports §Protocol Version
  // Header); the backend is stateless, so the call works without an initialize first.
  `-H 'MCP-Protocol-Version: 2025-11-25'`,
]

/** Joins a command's parts as a shell command continued over lines with `\`. */
function command(parts: string[]): string {
  return parts.map((p, i) => (i === 0 ? `  ${p}` : `    ${p}`)).join(' \\\n')
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`
}

/**
 * The block `npm start` prints: what runs where, then copy-paste commands. The integration test
 * parses these very commands and runs them, so what is printed is what is tested.
 */
export function demoInstructions(i: DemoInstructionsInput): string {
  const listBody = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' })
  const callBody = JSON.stringify({
    jsonrpc: '2.0',
    id: 2,
    method: 'tools/call',
    params: { name: 'echo', arguments: { text: 'Hello through the gateway' } },
  })
  return [
    'mcp-resource-gateway demo is running on 127.0.0.1 (Ctrl-C stops it)',
    '',
    `  Gateway, MCP endpoint   ${i.mcpUrl}`,
    `  Authorization server    ${i.authorizationServerUrl}   (demo only: approves every request, keys in memory)`,
    `  MCP backend, no auth    ${i.backendUrl}   (tools: echo, add; reach it through the gateway)`,
    '',
    '1) Without a token the gateway answers 401, and WWW-Authenticate says where to get one:',
    '',
    command([`curl -i ${i.mcpUrl}`, ...MCP_HEADERS, `-d ${shellQuote(listBody)}`]),
    '',
    '2) The Protected Resource Metadata it points to (RFC 9728):',
    '',
    command([`curl -s ${i.metadataUrl}`]),
    '',
    `3) With a token (scope ${i.scope}, valid ${i.tokenLifetimeMinutes} minutes), call the echo tool:`,
    '',
    `  TOKEN=${shellQuote(i.token)}`,
    '',
    command([`curl -s ${i.mcpUrl}`, `-H "Authorization: Bearer $TOKEN"`, ...MCP_HEADERS, `-d ${shellQuote(callBody)}`]),
    '',
    '4) A fresh token, from the token endpoint with client credentials:',
    '',
    command([
      `curl -s ${i.tokenEndpoint}`,
      `-u ${DEMO_CLIENT_ID}:${DEMO_CLIENT_SECRET}`,
      '-d grant_type=client_credentials',
      `-d scope=${i.scope}`,
      `--data-urlencode resource=${i.mcpUrl}`,
    ]),
    '',
    `Any MCP client pointed at ${i.mcpUrl} can also find the authorization server through the 401,`,
    'register itself and sign in (the demo server approves at once, with no login page).',
    '',
  ].join('\n')
}
