import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  buildProtectedResourceMetadata,
  protectedResourceMetadataPaths,
  protectedResourceMetadataUrl,
} from '../../../src/metadata/protected-resource.js'

// RFC 9728 (https://www.rfc-editor.org/rfc/rfc9728): §2 the document, §3.1 the well-known URL.

describe('buildProtectedResourceMetadata', () => {
  test('keys in order, values exactly as configured', () => {
    const text = buildProtectedResourceMetadata({
      resource: 'https://mcp.example.com/mcp',
      authorizationServers: ['https://as.example.com', 'https://login.example.com/tenant/v2.0'],
      scopesSupported: ['mcp:read', 'mcp:write'],
      bearerMethodsSupported: ['header'],
    })
    assert.equal(
      text,
      '{"resource":"https://mcp.example.com/mcp",' +
        '"authorization_servers":["https://as.example.com","https://login.example.com/tenant/v2.0"],' +
        '"scopes_supported":["mcp:read","mcp:write"],' +
        '"bearer_methods_supported":["header"]}',
    )
  })

  test('resource_name and resource_documentation come last, when set', () => {
    const text = buildProtectedResourceMetadata({
      resource: 'https://mcp.example.com/mcp',
      authorizationServers: ['https://as.example.com'],
      scopesSupported: [],
      bearerMethodsSupported: ['header'],
      resourceName: 'Example MCP',
      resourceDocumentation: 'https://docs.example.com/mcp',
    })
    assert.deepEqual(Object.keys(JSON.parse(text) as object), [
      'resource',
      'authorization_servers',
      'scopes_supported',
      'bearer_methods_supported',
      'resource_name',
      'resource_documentation',
    ])
    assert.equal(
      text,
      '{"resource":"https://mcp.example.com/mcp","authorization_servers":["https://as.example.com"],' +
        '"scopes_supported":[],"bearer_methods_supported":["header"],"resource_name":"Example MCP",' +
        '"resource_documentation":"https://docs.example.com/mcp"}',
    )
  })

  test('resource and issuers are not normalized (strict clients compare byte for byte)', () => {
    const document = JSON.parse(
      buildProtectedResourceMetadata({
        resource: 'https://MCP.example.com/mcp/',
        authorizationServers: ['https://as.example.com/'],
        scopesSupported: ['a'],
        bearerMethodsSupported: ['header'],
      }),
    ) as Record<string, unknown>
    assert.equal(document.resource, 'https://MCP.example.com/mcp/')
    assert.deepEqual(document.authorization_servers, ['https://as.example.com/'])
  })

  test('offline_access is never advertised', () => {
    const document = JSON.parse(
      buildProtectedResourceMetadata({
        resource: 'https://mcp.example.com/mcp',
        authorizationServers: ['https://as.example.com'],
        scopesSupported: ['offline_access', 'mcp:read', 'offline_access'],
        bearerMethodsSupported: ['header'],
      }),
    ) as Record<string, unknown>
    assert.deepEqual(document.scopes_supported, ['mcp:read'])
  })
})

describe('protectedResourceMetadataUrl (RFC 9728 §3.1)', () => {
  const rows: { name: string; resource: string; url: string }[] = [
    {
      name: 'RFC 9728 §3.1 example',
      resource: 'https://resource.example.com/resource1',
      url: 'https://resource.example.com/.well-known/oauth-protected-resource/resource1',
    },
    {
      name: 'no path',
      resource: 'https://resource.example.com',
      url: 'https://resource.example.com/.well-known/oauth-protected-resource',
    },
    {
      name: 'root path',
      resource: 'https://resource.example.com/',
      url: 'https://resource.example.com/.well-known/oauth-protected-resource',
    },
    {
      name: 'trailing slash kept',
      resource: 'https://mcp.example.com/mcp/',
      url: 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp/',
    },
    {
      name: 'deeper path',
      resource: 'https://api.example.com/tenant/a/mcp',
      url: 'https://api.example.com/.well-known/oauth-protected-resource/tenant/a/mcp',
    },
    {
      name: 'query preserved after the path',
      resource: 'https://api.example.com/mcp?tenant=a',
      url: 'https://api.example.com/.well-known/oauth-protected-resource/mcp?tenant=a',
    },
    {
      name: 'non-default port kept',
      resource: 'http://127.0.0.1:8080/mcp',
      url: 'http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp',
    },
    {
      name: 'default port dropped',
      resource: 'https://mcp.example.com:443/mcp',
      url: 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp',
    },
  ]
  for (const row of rows) {
    test(row.name, () => {
      assert.equal(protectedResourceMetadataUrl(row.resource), row.url)
    })
  }
})

describe('protectedResourceMetadataPaths', () => {
  test('root and path-aware forms', () => {
    assert.deepEqual(protectedResourceMetadataPaths('https://mcp.example.com/mcp'), [
      '/.well-known/oauth-protected-resource',
      '/.well-known/oauth-protected-resource/mcp',
    ])
  })
  test('a resource at the root has one path', () => {
    assert.deepEqual(protectedResourceMetadataPaths('https://mcp.example.com'), ['/.well-known/oauth-protected-resource'])
  })
  test('extra paths (a configured metadata URI) are added once', () => {
    assert.deepEqual(
      protectedResourceMetadataPaths('https://mcp.example.com/mcp', ['/meta.json', '/.well-known/oauth-protected-resource']),
      ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp', '/meta.json'],
    )
  })
})
