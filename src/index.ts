/**
 * mcp-resource-gateway as a library: the gateway's own core, for Node programs that embed it.
 * Every line here is a decision to make something public; internals stay unreachable.
 *
 * @example
 * import { loadConfig, startGateway } from 'mcp-resource-gateway'
 * const gateway = await startGateway(await loadConfig({ env: process.env }))
 *
 * @example
 * import { createResourceServer } from 'mcp-resource-gateway'
 * import { mcpAuth } from 'mcp-resource-gateway/express'   // also /fastify, /hono, /node
 * app.use(mcpAuth(await createResourceServer({ resource: 'https://mcp.example.com/mcp', ... })))
 */

// The library: the same checks inside a Node MCP server (docs/library.md).
export { createResourceServer, type Authenticated, type HeaderSource, type ResourceServer } from './library/resource-server.js'
export { resourceServerSchema, type ResourceServerConfig, type ResourceServerOptions } from './library/options.js'
export type { McpAuthExtra, McpAuthInfo } from './library/auth-info.js'
export { filterListResponses, type ListFilterTransport } from './library/filter-lists.js'
export type { Answer } from './server/respond.js'

// Configuration: file -> environment -> flags, validated, every problem named.
export { loadConfig, type Config, type LoadConfigOptions } from './config/load.js'

// The gateway: a node:http handler, or a listening server with reload and graceful close.
export { startGateway, type RunningGateway, type StartOptions } from './server/http.js'
export { createGatewayHandler, type GatewayParts } from './server/pipeline.js'
export { createMcpAuthorizer, type McpAuthorizer } from './server/mcp-authorizer.js'
export type { McpCall } from './jsonrpc/mcp-call.js'

// The pure decisions, usable on their own.
export { extractBearerToken } from './token/bearer.js'
export { createVerifier } from './token/create-verifier.js'
export type { Principal, TokenVerifier } from './token/principal.js'
export { buildChallenge } from './metadata/challenge.js'
export { buildProtectedResourceMetadata, protectedResourceMetadataUrl } from './metadata/protected-resource.js'

// Errors, mapped to RFC 6750 codes and HTTP statuses.
export {
  AuthorizationServerUnavailable,
  BadRequest,
  ConfigError,
  ForbiddenOrigin,
  GatewayError,
  InsufficientScope,
  InvalidRequest,
  InvalidToken,
  MissingCredentials,
  RateLimited,
  UpstreamError,
  VerifierUnavailable,
  type FailureReason,
} from './errors.js'

// Observability: subscribe to decisions without a logger dependency.
export { events, type DecisionEvent } from './observability/events.js'
