/**
 * The IP of the server that handed a mail to the repository's own mail server, when that server
 * recorded it in a way we can trust — used only to count rejected mail per source, never to
 * authenticate.
 *
 * Everything below the headers the repo's mail server added is written by the sender, so only a
 * Received header that the trusted server itself added counts: its `by` host must equal the
 * repository's `trusted_authserv_id` (the name the same server puts in Authentication-Results). Such
 * headers sit above anything the sender wrote, and the first of them (from the top) whose TCP-info
 * names a public address is where the mail came in from the internet. The IP is the address literal
 * of the TCP-info comment after the HELO name, as RFC 5321 §4.4 writes it (`from helo (rdns [ip])`,
 * Postfix, Gmail, Fastmail); the HELO name itself is the sender's word and is never read as the IP.
 * Servers that name themselves differently, or write another format, give null: the mail is then
 * counted by its From address only (see docs/configuration.md, `rejected_mail`).
 *
 * Only anchored, bounded patterns run on header text.
 */
import { BlockList, isIP } from 'node:net';
import type { HeaderLine } from './headers.ts';

/** How far down the Received headers are read: the trusted server's own hops are at the top. */
const MAX_RECEIVED = 10;
/** Longer Received headers are not read (no real one is near this long). */
const MAX_RECEIVED_LENGTH = 4000;

/** Addresses that are not "the internet": a hop inside the operator's own network, or a forgery. */
const NOT_PUBLIC = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
] as const) {
  NOT_PUBLIC.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 127],
  ['fc00::', 7],
  ['fe80::', 10],
] as const) {
  NOT_PUBLIC.addSubnet(net, prefix, 'ipv6');
}

/** `from <helo> (<tcp-info>)` at the start of a Received value; the HELO is one token. */
const FROM_CLAUSE = /^from[ \t]+[^ \t()]{1,255}[ \t]+\(([^()]{1,300})\)/i;
/** TCP-info: `[ip]` or `rdns [ip]` (IPv6 literals may carry the `IPv6:` tag), nothing else. */
const TCP_INFO = /^(?:[A-Za-z0-9.-]{1,255}[ \t]+)?\[(?:IPv6:)?([0-9A-Fa-f:.]{2,45})\]$/;
/** The `by` host: the token after the word `by`, which follows the from-clause. */
const BY_HOST = /[ \t)]by[ \t]+([A-Za-z0-9.-]{1,255})/i;

/** An IPv4-mapped IPv6 literal (`::ffff:192.0.2.1`) is the IPv4 address; BlockList would match it against every IPv4 rule otherwise. */
function canonical(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  return mapped ? mapped[1]! : ip.toLowerCase();
}

function isPublic(ip: string): boolean {
  const family = isIP(ip);
  if (family === 0) return false;
  return !NOT_PUBLIC.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

/** The connecting server's IP as the trusted server recorded it, lowercased; null when it can't be told. */
export function connectingIp(headerLines: readonly HeaderLine[], trustedAuthservId: string): string | null {
  const trusted = trustedAuthservId.trim().toLowerCase();
  let seen = 0;
  for (const line of headerLines) {
    if (line.name.toLowerCase() !== 'received') continue;
    if (++seen > MAX_RECEIVED) break;
    const value = line.value;
    if (value.length > MAX_RECEIVED_LENGTH) continue;
    const by = BY_HOST.exec(value)?.[1]?.toLowerCase().replace(/\.$/, '');
    if (by !== trusted) continue;
    const tcpInfo = FROM_CLAUSE.exec(value)?.[1]?.trim();
    const literal = tcpInfo === undefined ? undefined : TCP_INFO.exec(tcpInfo)?.[1];
    const ip = literal === undefined ? undefined : canonical(literal);
    if (ip !== undefined && isPublic(ip)) return ip;
  }
  return null;
}
