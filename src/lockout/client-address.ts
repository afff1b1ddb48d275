import { BlockList, isIP } from 'node:net'
import type { IncomingMessage } from 'node:http'
import type { TrustedProxy } from './schema.js'

/**
 * The client's address: the TCP peer, unless that peer is a trusted proxy; then the nearest address
 * in `Forwarded` (RFC 7239 §5.2 `for=`) or else `X-Forwarded-For` that is not itself a trusted
 * proxy, read from the right, since only the entries a trusted proxy appended can be believed.
 * With no trusted proxies the headers are never read.
 */
export function createClientAddress(trusted: readonly TrustedProxy[]): (req: IncomingMessage) => string {
  const isTrusted = createTrustedPeer(trusted)
  return (req) => {
    const peer = plain(req.socket.remoteAddress ?? '')
    if (trusted.length === 0 || !isTrusted(peer)) return peer
    const chain = forwardedChain(req)
    for (let i = chain.length - 1; i >= 0; i--) {
      const hop = chain[i] as string
      if (isIP(hop) === 0) return peer
      if (!isTrusted(hop)) return hop
    }
    return chain.length > 0 ? (chain[0] as string) : peer
  }
}

/**
 * Whether an address is one of `MCP_TRUSTED_PROXIES` (addresses or CIDR ranges; `::ffff:` IPv4
 * peers count as IPv4): the one list every feature that believes a proxy's header reads.
 */
export function createTrustedPeer(trusted: readonly TrustedProxy[]): (address: string) => boolean {
  const list = new BlockList()
  for (const { address, prefix, family } of trusted) list.addSubnet(address, prefix, family)
  // Peers are few (the proxies themselves, mostly): their answers are kept, bounded.
  const known = new Map<string, boolean>()
  return (raw) => {
    const address = plain(raw)
    let answer = known.get(address)
    if (answer === undefined) {
      const family = isIP(address)
      answer = family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4')
      if (known.size >= 1024) known.clear()
      known.set(address, answer)
    }
    return answer
  }
}

/** `::ffff:10.0.0.1` is the IPv4 peer of a dual-stack socket. */
function plain(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address
}

/** The `for=` addresses of `Forwarded`, else the `X-Forwarded-For` list, client first. */
function forwardedChain(req: IncomingMessage): string[] {
  const forwarded = req.headers.forwarded
  if (forwarded !== undefined && forwarded !== '') {
    const hops: string[] = []
    for (const element of forwarded.split(',')) {
      const match = /(?:^|;)\s*for=("?)([^";]*)\1/i.exec(element)
      if (match !== null) hops.push(plain(unbracket(match[2] as string)))
    }
    return hops
  }
  const xff = req.headers['x-forwarded-for']
  const text = Array.isArray(xff) ? xff.join(',') : (xff ?? '')
  return text
    .split(',')
    .map((s) => plain(s.trim()))
    .filter((s) => s !== '')
}

/** `[2001:db8::1]:4711` or `192.0.2.1:4711` (RFC 7239 §6) to the bare address. */
function unbracket(node: string): string {
  if (node.startsWith('[')) return node.slice(1, node.indexOf(']'))
  const colon = node.indexOf(':')
  return colon !== -1 && node.indexOf(':', colon + 1) === -1 ? node.slice(0, colon) : node
}
