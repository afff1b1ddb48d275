// oidc-provider prints notices at import time ("Unsupported runtime" on Node 20) and on first use
// of each default it wants changed. They are noise in test output and hide real failures, so this
// module drops exactly those lines. It must be imported before 'oidc-provider' is evaluated.
const MARKERS = ['oidc-provider NOTICE:', 'oidc-provider WARNING:']

function isOidcNotice(args: unknown[]): boolean {
  const first = args[0]
  return typeof first === 'string' && MARKERS.some((marker) => first.includes(marker))
}

const installed = Symbol.for('mcp-resource-gateway.test.silenceOidcNotices')
const state = globalThis as Record<symbol, unknown>

if (state[installed] !== true) {
  state[installed] = true
  const originalWarn = console.warn.bind(console)
  const originalInfo = console.info.bind(console)
  console.warn = (...args: unknown[]) => {
    if (!isOidcNotice(args)) originalWarn(...args)
  }
  console.info = (...args: unknown[]) => {
    if (!isOidcNotice(args)) originalInfo(...args)
  }
}

export {}
