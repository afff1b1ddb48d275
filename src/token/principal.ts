/**
 * Who a verified token speaks for. Produced by a verifier (JWT or introspection), consumed by the
 * policy. Never logged whole: `claims` may hold personal data.
 */
export interface Principal {
  /** The issuer the token was verified against (the configured `issuer` string). */
  readonly issuer: string
  readonly subject: string | undefined
  readonly clientId: string | undefined
  /** Scopes the token carries, before `implies` expansion. */
  readonly scopes: ReadonlySet<string>
  /** `exp`, in seconds since the epoch. */
  readonly expiresAt: number
  /** The verified claims (or introspection answer); read by policy, never logged. */
  readonly claims: Readonly<Record<string, unknown>>
}

/** Turns a bearer token into a principal, or throws a `GatewayError` (401/503). */
/** What a verifier may know of the request besides its token. */
export interface VerifyContext {
  /** The client's address (`MCP_TRUSTED_PROXIES` honoured): introspection calls are capped per client (`MCP_INTROSPECT_MAX_RATE`). */
  clientAddress?: string | undefined
}

export interface TokenVerifier {
  verify(token: string, context?: VerifyContext): Promise<Principal>
  /**
   * The principal of a token this verifier has already verified and still holds as valid (a cache
   * hit), at once; `undefined` when only `verify` can tell. Saves a request the promise round trip.
   */
  verifyCached?(token: string): Principal | undefined
  /** Loads keys or metadata ahead of the first request; resolves `false` when not ready yet. */
  warmUp?(): Promise<boolean>
  /** Whether keys are loaded and verification can succeed (for `/readyz`). */
  ready?(): boolean
  /**
   * Registers a listener told the `kid`s of signing keys a refresh removed (`undefined` for a key
   * without one), so answers verified with them are not served from a cache any more. Returns the
   * function that unregisters it.
   */
  onKeysRemoved?(listener: (kids: ReadonlySet<string | undefined>) => void): () => void
  /**
   * Drops cached answers whose principal (or token hash) matches, at once: a revoked token is not
   * served from a cache any more.
   */
  forget?(matches: (principal: Principal, tokenHash: string) => boolean): void
  close?(): Promise<void>
}
