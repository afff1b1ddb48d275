import { z } from 'zod'
import { list } from '../common/units.js'

/** RFC 6749 §3.3 `scope-token = 1*NQCHAR`: printable ASCII without space, `"` or `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/

const scope = z
  .string()
  .regex(SCOPE_TOKEN, 'not a scope token (RFC 6749 §3.3: printable ASCII without space, quote or backslash)')

/** A list of scopes: a YAML list, or a space- or comma-separated string (as the environment gives it). */
const scopeList = list.pipe(z.array(scope))

const OFFLINE_ACCESS = 'offline_access'

const rules = (what: string) =>
  z
    .record(z.string().min(1), scopeList)
    .default({})
    .describe(
      `${what} -> scopes, all required, added to the method's scopes. The key \`*\` applies to every ` +
        'name that has no entry of its own.',
    )

export const scopesSchema = z
  .strictObject({
    required: scopeList
      .default([])
      .describe(
        'Scopes every request needs, whatever its method; also the `scope` of the 401 challenge sent ' +
          'when no token is presented. Env: `MCP_REQUIRED_SCOPE`.',
      ),
    supported: scopeList
      .optional()
      .describe(
        '`scopes_supported` in the protected resource metadata: the minimal set for basic use ' +
          '(MCP 2026-07-28 §Scope Selection Strategy). Must include every `required` scope. Default: ' +
          'every scope named in this section. Env: `MCP_SCOPES_SUPPORTED`.',
      ),
    methods: z
      .record(z.string().min(1), scopeList)
      .default({})
      .describe(
        'JSON-RPC method (`tools/list`, `tools/call`, `resources/read`, ...) -> scopes, all required, ' +
          'added to `required`. The key `*` applies to every method that has no entry of its own.',
      ),
    tools: rules('Tool name (`params.name` of `tools/call`)'),
    prompts: rules('Prompt name (`params.name` of `prompts/get`)'),
    resources: z
      .record(
        z
          .string()
          .min(1)
          .refine((key) => !key.slice(0, -1).includes('*'), "'*' may only end a pattern (a prefix match)"),
        scopeList,
      )
      .default({})
      .describe(
        'Resource URI (`params.uri` of `resources/read`, `resources/subscribe`, `resources/unsubscribe`) ' +
          '-> scopes, added to the method\'s scopes. A key ending in `*` matches every URI starting with ' +
          'the rest; an exact key wins over prefixes, and the longest matching prefix wins over shorter ' +
          'ones (`*` alone matches every URI).',
      ),
    implies: z
      .record(scope, scopeList)
      .default({})
      .describe(
        'Scope hierarchy: a token holding the key also holds each listed scope, transitively ' +
          '(`repo:admin: [repo:write]` and `repo:write: [repo:read]` let `repo:admin` read). A cycle makes ' +
          'its scopes equivalent. Used when deciding; challenges still name the scopes the rules list ' +
          '(MCP 2026-07-28 §Step-Up Authorization Flow).',
      ),
    filterLists: z
      .boolean()
      .default(false)
      .describe(
        'Drop from `tools/list`, `prompts/list`, `resources/list` and `resources/templates/list` results ' +
          'the entries the caller could not use (same rules as the calls, including the allowed-tools ' +
          'claim), in JSON and SSE responses. Filtered 2026-07-28 results are marked `cacheScope: "private"`. ' +
          'Calls are enforced either way.',
      ),
    challengeIncludesTokenScopes: z
      .union([
        z.boolean(),
        z.strictObject({
          default: z.boolean().default(false).describe('For clients not listed in `clients`.'),
          clients: z
            .array(z.string().min(1))
            .default([])
            .describe('`client_id` values that get the token scopes added (on top of `default`).'),
        }),
      ])
      .default(false)
      .describe(
        "Add the token's current scopes to the `scope` of a 403 challenge, for clients that replace " +
          'their scopes on step-up instead of adding to them (typescript-sdk#2255). `true`/`false` for ' +
          'everyone, or `{ default, clients }` to turn it on for some `client_id` values only.',
      ),
    allowedToolsClaim: z
      .union([z.string().min(1), z.literal(false)])
      .default('mcp_allowed_tools')
      .describe(
        'Token claim listing the tools the token may call (an array, or a space-separated string). ' +
          'When a token carries it, only those tools are callable and listed, on top of the scope rules; ' +
          'a claim of another type allows no tool. Tokens without it are not restricted. `false` ignores the claim.',
      ),
  })
  .superRefine((scopes, ctx) => {
    // MCP 2026-07-28 §Refresh Tokens (SEP-2207): offline_access SHOULD NOT be in a challenge or in
    // scopes_supported, and every scope named here can end up in one of the two.
    const check = (items: readonly string[], path: (string | number)[]) => {
      items.forEach((item, i) => {
        if (item === OFFLINE_ACCESS) {
          ctx.addIssue({ code: 'custom', path: [...path, i], message: 'offline_access is not a resource scope' })
        }
      })
    }
    check(scopes.required, ['required'])
    if (scopes.supported !== undefined) check(scopes.supported, ['supported'])
    for (const key of ['methods', 'tools', 'prompts', 'resources', 'implies'] as const) {
      for (const [name, items] of Object.entries(scopes[key])) check(items, [key, name])
    }
    if (Object.hasOwn(scopes.implies, OFFLINE_ACCESS)) {
      ctx.addIssue({ code: 'custom', path: ['implies', OFFLINE_ACCESS], message: 'offline_access is not a resource scope' })
    }
    if (scopes.supported !== undefined) {
      const supported = new Set(scopes.supported)
      scopes.required.forEach((item, i) => {
        if (!supported.has(item)) {
          ctx.addIssue({
            code: 'custom',
            path: ['required', i],
            message: `required scope "${item}" is missing from the supported scopes (MCP_SCOPES_SUPPORTED, file key scopes.supported)`,
          })
        }
      })
    }
  })
  .describe('Which scopes each MCP request needs: per method, per tool, prompt and resource, with a hierarchy.')

export type ScopesConfigInput = z.input<typeof scopesSchema>
export type ScopesConfig = z.output<typeof scopesSchema>
