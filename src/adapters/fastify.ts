/**
 * `mcp-resource-gateway/fastify`: the resource server as a Fastify 5 plugin.
 *
 * @example
 * await app.register(mcpAuth(rs))   // metadata routes, onRequest + preHandler hooks, `request.auth`
 * app.post('/mcp', (request, reply) => transport.handleRequest(request.raw, reply.raw, request.body))
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { GatewayError } from '../errors.js'
import type { McpAuthInfo } from '../library/auth-info.js'
import type { ResourceServer } from '../library/resource-server.js'
import type { Answer } from '../server/respond.js'
import type { Principal } from '../token/principal.js'
import { pathOf } from './node.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Set on the MCP path once the token is verified: the MCP SDK's `AuthInfo`. */
    auth?: McpAuthInfo | undefined
  }
}

/**
 * Registers GET/HEAD/OPTIONS routes for both metadata URLs and two hooks for the MCP path:
 * `onRequest` verifies the token (401 before the body is even read), `preHandler` authorizes the
 * parsed JSON-RPC call (403 step-up). It applies to the scope it is registered in (it does not
 * encapsulate), so register it beside the MCP route. `request.raw.auth` is set too, for the SDK's
 * node transport, which reads it from the raw request.
 */
export function mcpAuth(rs: ResourceServer): FastifyPluginAsync {
  const principals = new WeakMap<FastifyRequest, Principal>()

  const plugin: FastifyPluginAsync = async (fastify) => {
    for (const url of rs.config.resource.metadataPaths) {
      fastify.route({
        method: ['GET', 'OPTIONS'],
        url,
        handler: (request, reply) => {
          // Fastify answers HEAD from the GET route and drops the body itself.
          const method = request.method === 'HEAD' ? 'GET' : request.method
          return send(reply, rs.metadataAnswer(url, method, request.headers) as Answer)
        },
      })
    }
    fastify.decorateRequest('auth', undefined)

    fastify.addHook('onRequest', async (request, reply) => {
      if (!rs.protects(pathOf(request.url))) return
      try {
        const { principal, auth } = await rs.authenticate(request.headers)
        principals.set(request, principal)
        request.auth = auth
        ;(request.raw as { auth?: McpAuthInfo }).auth = auth
      } catch (error) {
        if (!(error instanceof GatewayError)) throw error
        return send(reply, rs.refusal(error))
      }
    })

    fastify.addHook('preHandler', async (request, reply) => {
      const principal = principals.get(request)
      if (principal === undefined) return
      try {
        rs.authorize(principal, request.method === 'POST' ? request.body : undefined, request.headers)
      } catch (error) {
        if (!(error instanceof GatewayError)) throw error
        return send(reply, rs.refusal(error))
      }
    })
  }
  // What fastify-plugin does: the hooks reach the routes of the scope that registers the plugin.
  Object.assign(plugin, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'mcp-resource-gateway' })
  return plugin
}

function send(reply: FastifyReply, answer: Answer): FastifyReply {
  const { 'content-length': _length, ...headers } = answer.headers
  return reply.code(answer.status).headers(headers).send(answer.body === '' ? undefined : answer.body)
}
