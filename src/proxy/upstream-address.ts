/**
 * Addresses the proxy never connects to on a name's behalf: the host itself (loopback and the
 * unspecified address, which reach the daemon's dashboard, IMAP proxies and the like), link-local
 * (cloud metadata services live at 169.254.169.254) and multicast. An operator who wants a name to
 * reach a local service says so with `network.upstream_overrides`, which skips this check.
 * Private ranges (10/8, 192.168/16, …) stay reachable: company-internal services are a normal
 * thing to allowlist.
 */
import net from 'node:net';

export function isForbiddenUpstreamAddress(address: string): boolean {
  let a = address.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped) a = mapped[1]!;
  if (net.isIPv4(a)) {
    const [x, y] = a.split('.').map(Number) as [number, number];
    return x === 127 || x === 0 || (x === 169 && y === 254) || x >= 224;
  }
  if (net.isIPv6(a)) {
    return a === '::1' || a === '::' || /^fe[89ab]/.test(a) || a.startsWith('ff');
  }
  return true;
}
