/**
 * Reading `WWW-Authenticate` twice: as RFC 9110 §11.6.1 defines it, and as the MCP TypeScript SDK
 * v1 client does (split on the first space, then a regex for the first `name=` anywhere). When the
 * two readings differ, a real client acts on the second.
 */

export { parseChallenges, type Challenge } from '../metadata/www-authenticate.js'

export interface SdkChallengeView {
  /** Whether the SDK sees a Bearer challenge at all (first word `Bearer`, something after it). */
  readonly bearer: boolean
  readonly resourceMetadata: string | undefined
  readonly scope: string | undefined
  readonly error: string | undefined
}

/**
 * What `extractWWWAuthenticateParams` (SDK v1 `client/auth.js`) reads from the header, given the
 * header values joined the way `Headers.get` joins them.
 */
export function sdkChallengeView(joined: string): SdkChallengeView {
  const [type, second] = joined.split(' ')
  if (type === undefined || type.toLowerCase() !== 'bearer' || second === undefined || second === '') {
    return { bearer: false, resourceMetadata: undefined, scope: undefined, error: undefined }
  }
  const field = (name: string): string | undefined => {
    const match = new RegExp(`${name}=(?:"([^"]+)"|([^\\s,]+))`).exec(joined)
    return match === null ? undefined : (match[1] ?? match[2])
  }
  return { bearer: true, resourceMetadata: field('resource_metadata'), scope: field('scope'), error: field('error') }
}
