/**
 * Every connection the proxy opens to an upstream server starts here, so one place decides which
 * address is connected to and checks that address, whatever the request named:
 *
 * - a name with an operator override (`network.upstream_overrides`) goes where the operator said,
 *   loopback included (that is what overrides are for);
 * - any other name or IP literal is resolved (a literal resolves to itself) and the address that is
 *   then connected to must not be loopback, link-local, unspecified or multicast.
 *
 * Why not the `lookup` hook of `net.connect`: Node never calls it for an IP literal, so
 * `http://127.0.0.1:<dashboard port>/` or `http://[::1]/` would skip the check. Here the checked
 * address is the one handed to `net.connect`/`tls.connect`, and no second resolution happens.
 *
 * The override table is a `Map`: its keys are compared with names the container chose, and a plain
 * object would answer for `constructor` or `__proto__` from its prototype.
 */
import type { LookupAddress, LookupOptions } from 'node:dns';
import dns from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { AirutError } from '../errors.ts';
import { isForbiddenUpstreamAddress } from './upstream-address.ts';

/** Where the proxy connects for a host instead of resolving it (operator config). */
export interface UpstreamOverride {
  readonly host: string;
  readonly port: number | null;
}

/**
 * The name resolves only to addresses the sandbox never connects to. The message goes back to the
 * agent in the 502 and to the network log; the fix, if the request is meant, is an operator's
 * `network.upstream_overrides` entry.
 */
export class ForbiddenUpstreamError extends AirutError {
  constructor(host: string) {
    super('EAIRUTFORBIDDEN', `${host} resolves only to local or link-local addresses, which the sandbox does not connect to`);
  }
}

type CreateConnection = (options: http.ClientRequestArgs, done: (err: Error | null, socket: Duplex) => void) => undefined;

export class UpstreamConnector {
  private readonly overrides: ReadonlyMap<string, UpstreamOverride>;
  /** TLS trust for upstream connections: Node's roots plus extra CAs, or Node's default. */
  private readonly trust: { ca?: string[] };
  readonly httpAgent: http.Agent;
  readonly httpsAgent: https.Agent;

  constructor(overrides: Readonly<Record<string, UpstreamOverride>> | undefined, extraCa: readonly string[] | undefined) {
    // Own entries only: whatever the object inherits never becomes an override.
    this.overrides = new Map(Object.entries(overrides ?? {}).map(([name, target]) => [name.toLowerCase(), target]));
    this.trust = extraCa?.length ? { ca: [...tls.rootCertificates, ...extraCa] } : {};
    const plainConnect = this.createConnection('http');
    const tlsConnect = this.createConnection('https');
    this.httpAgent = new (class extends http.Agent {
      override createConnection = plainConnect as unknown as http.Agent['createConnection'];
    })({ keepAlive: true, maxFreeSockets: 16 });
    this.httpsAgent = new (class extends https.Agent {
      override createConnection = tlsConnect as unknown as https.Agent['createConnection'];
    })({ keepAlive: true, maxFreeSockets: 16 });
  }

  /** The port actually connected to for `host`: the override's, if it names one. */
  portFor(host: string, port: number): number {
    return this.overrides.get(host.toLowerCase())?.port ?? port;
  }

  /** The checked addresses `host` (a name or an IP literal) may be connected to, in DNS order. */
  async resolve(host: string): Promise<LookupAddress[]> {
    const override = this.overrides.get(host.toLowerCase());
    const name = override?.host ?? host;
    const family = net.isIP(name);
    const candidates = family !== 0 ? [{ address: name, family }] : await dns.lookup(name, { all: true });
    const usable = override ? candidates : candidates.filter((a) => !isForbiddenUpstreamAddress(a.address));
    if (usable.length === 0) throw new ForbiddenUpstreamError(host);
    return usable;
  }

  /**
   * A `createConnection` for agents and for `http.request` (upgrades): resolves and checks, then
   * connects to one of exactly those addresses. The `lookup` handed to `net.connect` only ever
   * answers with the checked list, so Node's own address fallback (IPv6, then IPv4) still works
   * and cannot reach anything else. For TLS the certificate is checked against the name the
   * request used (`servername`), never against the address.
   */
  createConnection(scheme: 'http' | 'https'): CreateConnection {
    return (options, done) => {
      const host = String(options.host ?? options.hostname ?? '');
      const port = Number(options.port);
      this.resolve(host).then(
        (addresses) => {
          const checked = (_name: string, opts: LookupOptions, cb: (...args: unknown[]) => void) =>
            opts.all ? cb(null, addresses) : cb(null, addresses[0]!.address, addresses[0]!.family);
          // Node skips `lookup` for an IP literal, so a literal request (whose override may name
          // something else) and a single address are connected to directly.
          const direct = addresses.length === 1 || net.isIP(host) !== 0;
          const target = { host: direct ? addresses[0]!.address : host, port, lookup: checked as unknown as net.LookupFunction };
          const socket =
            scheme === 'https'
              ? tls.connect({ ...target, servername: net.isIP(host) ? '' : host, ...this.trust })
              : net.connect(target);
          done(null, socket);
        },
        (err: Error) => done(err, undefined as unknown as Duplex),
      );
      return undefined;
    };
  }

  destroy(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
