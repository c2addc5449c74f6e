/**
 * A git smart-HTTP server on 127.0.0.1 for tests: `git http-backend` (the CGI program git ships)
 * behind a Node HTTP server that demands HTTP Basic credentials, as a real git host does for a
 * private repository. A clone without the right `user:token` gets 401, so a test that clones
 * through it proves the credentials were really used.
 *
 * Options: `tls` serves HTTPS with a certificate from test/harness/test-tls.ts (a name the sandbox
 * proxy reaches through `network.upstream_overrides`); `push` turns on `http.receivepack`, so
 * `git push` works — only with the right credentials, as on GitHub.
 */
import { spawn, execFileSync } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface GitHttpServerOptions {
  /** Serve HTTPS with this key and certificate instead of plain HTTP. */
  readonly tls?: { readonly key: string; readonly cert: string };
  /** Accept pushes (`http.receivepack`). Off by default: a plain clone source. */
  readonly push?: boolean;
}

export interface GitHttpServer {
  readonly port: number;
  /** `http(s)://127.0.0.1:PORT/<name>` without credentials. */
  url(repoName: string): string;
  /** The same with `user:token@` in it, as an operator would write `repo_url`. */
  urlWithCredentials(repoName: string): string;
  /** Requests answered 401 (no or wrong credentials) and 200 (authorised), for assertions. */
  readonly counts: { unauthorised: number; served: number };
  close(): Promise<void>;
}

const BACKEND = path.join(execFileSync('git', ['--exec-path'], { encoding: 'utf8' }).trim(), 'git-http-backend');

/** Serves the repositories under `root` (directory names are the repository names). */
export async function startGitHttpServer(root: string, creds: { user: string; token: string }, opts: GitHttpServerOptions = {}): Promise<GitHttpServer> {
  const expected = `Basic ${Buffer.from(`${creds.user}:${creds.token}`).toString('base64')}`;
  const counts = { unauthorised: 0, served: 0 };
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (req.headers.authorization !== expected) {
      counts.unauthorised++;
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="test"' }).end('credentials required\n');
      return;
    }
    counts.served++;
    runBackend(root, req, res, creds.user, opts.push === true);
  };
  const server = opts.tls ? https.createServer(opts.tls, handler) : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const scheme = opts.tls ? 'https' : 'http';
  return {
    port,
    counts,
    url: (name) => `${scheme}://127.0.0.1:${port}/${name}`,
    urlWithCredentials: (name) => `${scheme}://${encodeURIComponent(creds.user)}:${encodeURIComponent(creds.token)}@127.0.0.1:${port}/${name}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** One CGI call: request body to the backend's stdin, its `Status:` and headers to the response. */
function runBackend(root: string, req: http.IncomingMessage, res: http.ServerResponse, user: string, push: boolean): void {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const child = spawn(BACKEND, [], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: '1',
      REMOTE_USER: user,
      REMOTE_ADDR: '127.0.0.1',
      REQUEST_METHOD: req.method ?? 'GET',
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      ...(req.headers['content-length'] ? { CONTENT_LENGTH: String(req.headers['content-length']) } : {}),
      // Said either way: http-backend would otherwise allow pushes from any authenticated REMOTE_USER.
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: 'http.receivepack',
      GIT_CONFIG_VALUE_0: String(push),
      ...(req.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: String(req.headers['content-encoding']) } : {}),
      ...(req.headers['git-protocol'] ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
    },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  req.pipe(child.stdin);
  const out: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.on('close', () => {
    const all = Buffer.concat(out);
    let split = all.indexOf('\r\n\r\n');
    let sepLen = 4;
    if (split < 0) {
      split = all.indexOf('\n\n');
      sepLen = 2;
    }
    const head = split >= 0 ? all.subarray(0, split).toString('latin1') : '';
    const body = split >= 0 ? all.subarray(split + sepLen) : all;
    let status = 200;
    const headers: Record<string, string> = {};
    for (const line of head.split(/\r?\n/)) {
      const i = line.indexOf(':');
      if (i <= 0) continue;
      const name = line.slice(0, i).trim();
      const value = line.slice(i + 1).trim();
      if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10) || 500;
      else headers[name] = value;
    }
    res.writeHead(status, headers).end(body);
  });
}
