// oidc-provider ships no type declarations and @types/oidc-provider lags its majors, so the test
// harness declares only the surface it touches. Anything wider stays `unknown` on purpose.
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http'

  export interface InteractionDetails {
    uid: string
    prompt: { name: string; details: Record<string, unknown> }
    params: Record<string, unknown>
    session?: { accountId?: string }
    grantId?: string
    returnTo: string
  }

  export interface GrantInstance {
    addOIDCScope(scope: string): void
    addOIDCClaims(claims: string[]): void
    addResourceScope(resource: string, scope: string): void
    save(): Promise<string>
  }

  export interface GrantClass {
    new (init: { accountId: string; clientId: string }): GrantInstance
    find(id: string): Promise<GrantInstance | undefined>
  }

  export interface ClientLike {
    clientId: string
    grantTypeAllowed(grant: string): boolean
  }

  export class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>)
    readonly issuer: string
    readonly Grant: GrantClass
    callback(): (req: IncomingMessage, res: ServerResponse) => void
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>
    interactionFinished(
      req: IncomingMessage,
      res: ServerResponse,
      result: Record<string, unknown>,
      options?: { mergeWithLastSubmission?: boolean },
    ): Promise<void>
    on(event: string, listener: (...args: unknown[]) => void): this
  }

  export const errors: {
    InvalidTarget: new (description?: string) => Error
    InvalidClientMetadata: new (description?: string) => Error
    InvalidRequest: new (description?: string) => Error
    InvalidGrant: new (description?: string) => Error
    InvalidScope: new (description?: string, scope?: string) => Error
    ConsentRequired: new (description?: string) => Error
    InteractionRequired: new (description?: string) => Error
  }

  export default Provider
}

declare module 'oidc-provider/lib/adapters/memory_adapter.js' {
  // Returns an adapter factory with its own store, so each test AS is isolated from the others
  // and a rebuilt Provider (key rotation) keeps clients and opaque tokens.
  export function createMemoryAdapter(clockTolerance?: number): (model: string) => unknown
}
