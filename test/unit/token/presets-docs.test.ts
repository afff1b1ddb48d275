import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'
import { loadConfig } from '../../../src/config/load.js'
import { ConfigError } from '../../../src/errors.js'

/**
 * Keeps docs/identity-providers.md honest: every YAML and shell example on it loads as a
 * configuration. Secret files under /run/secrets/ are created in a temporary directory (mode 600);
 * `resource`, `backend` and `listen` are added when an example leaves them out.
 */

const DOC = new URL('../../../docs/identity-providers.md', import.meta.url)
const SECRETS = '/run/secrets/'

interface Example {
  lang: 'yaml' | 'sh'
  text: string
  line: number
}

function examples(markdown: string): Example[] {
  const found: Example[] = []
  const fence = /^```(yaml|sh)\n([\s\S]*?)^```$/gm
  for (let match = fence.exec(markdown); match !== null; match = fence.exec(markdown)) {
    found.push({ lang: match[1] as 'yaml' | 'sh', text: match[2] as string, line: markdown.slice(0, match.index).split('\n').length })
  }
  return found
}

let dir: string
const withSecrets = (text: string) => {
  for (const [, name] of text.matchAll(/\/run\/secrets\/([\w.-]+)/g)) {
    const path = join(dir, name as string)
    writeFileSync(path, `${'s'.repeat(64)}\n`)
    chmodSync(path, 0o600)
  }
  return text.replaceAll(SECRETS, `${dir}/`)
}

describe('docs/identity-providers.md examples', () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mcp-gw-idp-docs-'))
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  const all = examples(readFileSync(DOC, 'utf8'))
  test('the page has its examples (introspection, several issuers, HMAC, every preset)', () => {
    assert.ok(all.filter((e) => e.lang === 'yaml').length >= 10, `found ${all.length}`)
    assert.ok(all.some((e) => e.lang === 'sh'))
  })

  for (const example of all) {
    test(`${example.lang} example at line ${example.line} loads`, async () => {
      const text = withSecrets(example.text)
      try {
        if (example.lang === 'sh') {
          const env: Record<string, string> = { MCP_LISTEN_HOST: '127.0.0.1' }
          for (const [, name, value] of text.matchAll(/^(MCP_[A-Z_]+)=(.*)$/gm)) env[name as string] = value as string
          const config = await loadConfig({ env })
          assert.ok(config.authorizationServers.length > 0)
          return
        }
        const settings = parse(text) as Record<string, unknown>
        const file = join(dir, `example-${example.line}.yaml`)
        writeFileSync(
          file,
          stringify({
            listen: { host: '127.0.0.1' },
            resource: { canonicalUri: 'https://mcp.example.com/mcp' },
            backend: { url: '127.0.0.1:3000' },
            ...(settings.authorizationServers === undefined
              ? { authorizationServers: [{ issuer: 'https://as.example.com', discovery: true }] }
              : {}),
            ...settings,
          }),
        )
        const config = await loadConfig({ env: {}, argv: ['--config', file] })
        assert.ok(config.authorizationServers.length > 0)
      } catch (error) {
        if (error instanceof ConfigError) assert.fail(`example at line ${example.line}:\n${error.message}`)
        throw error
      }
    })
  }
})
