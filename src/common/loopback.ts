/**
 * Loopback hosts: the only ones where plain http and browser origins are trusted by default.
 * Takes a URL hostname (`[::1]`) or a listen address (`::1`); both spell the IPv6 loopback.
 */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || hostname === '::1' || /^127\.\d+\.\d+\.\d+$/.test(hostname)
}
