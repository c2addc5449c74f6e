/**
 * A stand-in Kubernetes API server for tests: the pieces of the real API the backend uses (pods, secrets, network
 * policies: create, get, list by label/field selector, delete, watch, pod logs), answering with real Kubernetes
 * shapes (Status objects, lists with a resourceVersion) so the official client is tested unchanged. Pods are "run"
 * by a PodRunner (see pod-runner.ts); failures and API-server restarts can be injected.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createTestTls, type TestTls } from '../test-tls.ts';
import type { PodRunner } from './pod-runner.ts';
import { PodSimulation } from './stand-in-pods.ts';
import { ObjectStore, writeEvent, type KubeObject, type StandInKind, type WatchFilter } from './stand-in-store.ts';

export type { PodRunner } from './pod-runner.ts';

const NAMESPACE = 'airut-test';
const TOKEN = 'stand-in-token';
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LIST_KIND: Record<StandInKind, string> = { pod: 'PodList', secret: 'SecretList', networkpolicy: 'NetworkPolicyList' };
const RESOURCE: Record<StandInKind, string> = { pod: 'pods', secret: 'secrets', networkpolicy: 'networkpolicies' };

interface Failure { readonly status: number; readonly reason: string; readonly message: string }
interface Route { readonly kind: StandInKind; readonly namespace: string; readonly name: string | null; readonly log: boolean }

export class KubeStandIn {
  readonly namespace = NAMESPACE;
  readonly #server: http.Server;
  readonly #tls: TestTls | null;
  readonly #store = new ObjectStore();
  readonly #pods: PodSimulation;
  readonly #requests = new Map<string, number>();
  /** Every object body a client asked to create, as sent (tests validate them against the schema). */
  readonly created: Array<{ readonly kind: StandInKind; readonly body: unknown }> = [];
  readonly #failures: Array<{ verb: string; kind: string; failure: Failure; times: number }> = [];
  #runner: PodRunner | null;
  #url = '';

  private constructor(tls: TestTls | null, runner: PodRunner | null) {
    this.#tls = tls;
    this.#runner = runner;
    this.#pods = new PodSimulation(this.#store, () => this.#runner, (name) => this.#secretData(name));
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      this.#handle(req, res).catch((err: unknown) => status(res, 500, 'InternalError', (err as Error).message));
    };
    this.#server = tls ? https.createServer(tls.serverOptions('127.0.0.1'), handler) : http.createServer(handler);
  }

  static async start(o: { tls?: boolean; runner?: PodRunner } = {}): Promise<KubeStandIn> {
    const s = new KubeStandIn(o.tls ? createTestTls('airut kube stand-in CA') : null, o.runner ?? null);
    await new Promise<void>((resolve) => s.#server.listen(0, '127.0.0.1', resolve));
    const port = (s.#server.address() as AddressInfo).port;
    s.#url = `${o.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    return s;
  }

  get url(): string {
    return this.#url;
  }

  /** Requests served, by "verb kind" (verbs: create, get, list, watch, delete, log). */
  get requests(): ReadonlyMap<string, number> {
    return this.#requests;
  }

  /** A kubeconfig for the real client: this server, its CA when TLS, a bearer token the server checks. */
  async writeKubeconfig(dir: string): Promise<string> {
    const cluster: Record<string, string | boolean> = { server: this.#url };
    if (this.#tls) cluster['certificate-authority-data'] = Buffer.from(this.#tls.caPem).toString('base64');
    // The client (2.x) refuses a plain-HTTP server unless told that TLS is deliberately not checked.
    else cluster['insecure-skip-tls-verify'] = true;
    const config = {
      apiVersion: 'v1', kind: 'Config', 'current-context': 'stand-in',
      clusters: [{ name: 'stand-in', cluster }],
      users: [{ name: 'airut', user: { token: TOKEN } }],
      contexts: [{ name: 'stand-in', context: { cluster: 'stand-in', user: 'airut', namespace: NAMESPACE } }],
    };
    const file = path.join(dir, 'kubeconfig');
    await fs.promises.writeFile(file, JSON.stringify(config, null, 2), { mode: 0o600 });
    return file;
  }

  setRunner(r: PodRunner): void {
    this.#runner = r;
  }

  objects(kind: StandInKind): unknown[] {
    return this.#store.all(kind).map((o) => structuredClone(o));
  }

  failNext(match: { verb: string; kind: string }, failure: Failure, times = 1): void {
    this.#failures.push({ ...match, failure, times });
  }

  /** The pod's activeDeadlineSeconds passes now (as the kubelet would mark it), whatever its value. */
  exceedDeadline(podName: string): void {
    this.#pods.exceedDeadline(podName);
  }

  dropConnections(o: { gone?: boolean } = {}): void {
    this.#store.dropWatches(o.gone === true);
    this.#pods.dropLogs();
  }

  async close(): Promise<void> {
    this.#pods.close();
    this.#store.dropWatches(false);
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#tls?.remove();
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return status(res, 401, 'Unauthorized', 'Unauthorized');
    const route = parseRoute(url.pathname);
    if (!route) return status(res, 404, 'NotFound', 'the server could not find the requested resource');
    const verb = verbOf(req.method ?? 'GET', route, url);
    this.#requests.set(`${verb} ${route.kind}`, (this.#requests.get(`${verb} ${route.kind}`) ?? 0) + 1);
    const failure = this.#takeFailure(verb, route.kind);
    if (failure) return status(res, failure.status, failure.reason, failure.message);
    if (route.namespace !== NAMESPACE) return status(res, 404, 'NotFound', `namespaces "${route.namespace}" not found`);
    switch (verb) {
      case 'create': {
        const body = await readJson(req);
        this.created.push({ kind: route.kind, body: structuredClone(body) });
        return this.#create(route.kind, body, res);
      }
      case 'get': return this.#get(route.kind, route.name!, res);
      case 'list': return this.#list(route.kind, url, res);
      case 'watch': return this.#watch(route.kind, url, res);
      case 'delete': return this.#delete(route.kind, route.name!, url, await readJson(req), res);
      case 'log': return this.#log(route.name!, url, res);
      default: return status(res, 405, 'MethodNotAllowed', `${req.method} is not supported here`);
    }
  }

  #takeFailure(verb: string, kind: string): Failure | null {
    const i = this.#failures.findIndex((f) => f.verb === verb && f.kind === kind);
    if (i < 0) return null;
    const f = this.#failures[i]!;
    if (--f.times <= 0) this.#failures.splice(i, 1);
    return f.failure;
  }

  #create(kind: StandInKind, body: unknown, res: http.ServerResponse): void {
    const obj = body as KubeObject | null;
    const name = obj?.metadata?.name;
    if (typeof name !== 'string' || name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
      return status(res, 422, 'Invalid', `${RESOURCE[kind]} "${String(name ?? '')}" is invalid: metadata.name: Invalid value: ` +
        `"${String(name ?? '')}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`);
    }
    if (this.#store.get(kind, name)) return status(res, 409, 'AlreadyExists', `${RESOURCE[kind]} "${name}" already exists`);
    const stored = structuredClone(obj!);
    stored.metadata.namespace = NAMESPACE;
    if (kind === 'secret') encodeSecret(stored);
    this.#store.add(kind, stored);
    if (kind === 'pod') this.#pods.start(stored);
    json(res, 201, stored);
  }

  #get(kind: StandInKind, name: string, res: http.ServerResponse): void {
    const obj = this.#store.get(kind, name);
    if (!obj) return status(res, 404, 'NotFound', `${RESOURCE[kind]} "${name}" not found`);
    json(res, 200, obj);
  }

  #list(kind: StandInKind, url: URL, res: http.ServerResponse): void {
    const filter = parseFilter(kind, url);
    json(res, 200, { kind: LIST_KIND[kind], apiVersion: kind === 'networkpolicy' ? 'networking.k8s.io/v1' : 'v1',
      metadata: { resourceVersion: this.#store.resourceVersion }, items: this.#store.matching(filter) });
  }

  #watch(kind: StandInKind, url: URL, res: http.ServerResponse): void {
    const rv = url.searchParams.get('resourceVersion');
    const since = rv === null || rv === '' || rv === '0' ? null : Number(rv);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.flushHeaders();
    if (!this.#store.watch(parseFilter(kind, url), since, res)) {
      writeEvent(res, 'ERROR', statusBody(410, 'Expired', `too old resource version: ${rv} (${this.#store.resourceVersion})`));
      res.end();
    }
  }

  #delete(kind: StandInKind, name: string, url: URL, body: unknown, res: http.ServerResponse): void {
    const fromBody = (body as { gracePeriodSeconds?: unknown } | null)?.gracePeriodSeconds;
    const param = url.searchParams.get('gracePeriodSeconds');
    const grace = typeof fromBody === 'number' ? fromBody : param !== null ? Number(param) : null;
    const gone = kind === 'pod' ? this.#pods.delete(name, grace) : this.#store.remove(kind, name);
    if (!gone) return status(res, 404, 'NotFound', `${RESOURCE[kind]} "${name}" not found`);
    if (kind === 'pod') return json(res, 200, gone);
    json(res, 200, { ...statusBody(200, '', ''), status: 'Success', details: { name, kind: RESOURCE[kind] } });
  }

  #log(name: string, url: URL, res: http.ServerResponse): void {
    if (!this.#store.get('pod', name)) return status(res, 404, 'NotFound', `pods "${name}" not found`);
    const container = url.searchParams.get('container') ?? '';
    const refusal = this.#pods.serveLog(name, container, url.searchParams.get('follow') === 'true', res);
    if (refusal) status(res, refusal.code, refusal.reason, refusal.message);
  }

  #secretData(name: string): Record<string, string> | null {
    const secret = this.#store.get('secret', name);
    if (!secret) return null;
    const data = (secret.data ?? {}) as Record<string, string>;
    return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  }
}

function parseRoute(pathname: string): Route | null {
  const m = /^\/(?:api\/v1|apis\/networking\.k8s\.io\/v1)\/namespaces\/([^/]+)\/(pods|secrets|networkpolicies)(?:\/([^/]+)(\/log)?)?$/.exec(pathname);
  if (!m) return null;
  const core = pathname.startsWith('/api/v1/');
  const kinds: Record<string, StandInKind> = { pods: 'pod', secrets: 'secret', networkpolicies: 'networkpolicy' };
  const kind = kinds[m[2]!]!;
  if (core === (kind === 'networkpolicy')) return null;
  if (m[4] && kind !== 'pod') return null;
  return { kind, namespace: decodeURIComponent(m[1]!), name: m[3] ? decodeURIComponent(m[3]) : null, log: Boolean(m[4]) };
}

function verbOf(method: string, route: Route, url: URL): string {
  const watching = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
  if (method === 'GET') return route.log ? 'log' : route.name ? 'get' : watching ? 'watch' : 'list';
  if (method === 'POST' && !route.name) return 'create';
  if (method === 'DELETE' && route.name && !route.log) return 'delete';
  return 'unsupported';
}

/** `labelSelector=a=b,c=d` (equality only) and `fieldSelector=metadata.name=x`. */
function parseFilter(kind: StandInKind, url: URL): WatchFilter {
  const labels = new Map<string, string>();
  for (const part of (url.searchParams.get('labelSelector') ?? '').split(',').filter(Boolean)) {
    const [k, v] = part.split(/==?/);
    labels.set(k!.trim(), (v ?? '').trim());
  }
  const field = /^metadata\.name==?(.+)$/.exec(url.searchParams.get('fieldSelector') ?? '');
  return { kind, labels, name: field ? field[1]! : null };
}

/** The API server keeps a Secret's data base64-encoded and folds stringData into it. */
function encodeSecret(secret: KubeObject): void {
  const data = { ...((secret.data ?? {}) as Record<string, string>) };
  for (const [k, v] of Object.entries((secret.stringData ?? {}) as Record<string, string>)) data[k] = Buffer.from(v).toString('base64');
  secret.data = data;
  delete secret.stringData;
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > 3 * 1024 * 1024) throw new Error('request body too large');
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function statusBody(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

function status(res: http.ServerResponse, code: number, reason: string, message: string): void {
  json(res, code, statusBody(code, reason, message));
}

function json(res: http.ServerResponse, code: number, body: unknown): void {
  if (res.headersSent) return void res.end();
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
