/**
 * A git smart-HTTP server on 127.0.0.1 for tests: `git http-backend` (the CGI program git ships)
 * behind a Node HTTP server that demands HTTP Basic credentials, as a real git host does for a
 * private repository. A clone without the right `user:token` gets 401, so a test that clones
 * through it proves the credentials were really used.
 */
import { spawn, execFileSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface GitHttpServer {
  readonly port: number;
  /** `http://127.0.0.1:PORT/<name>` without credentials. */
  url(repoName: string): string;
  /** The same with `user:token@` in it, as an operator would write `repo_url`. */
  urlWithCredentials(repoName: string): string;
  /** Requests answered 401 (no or wrong credentials) and 200 (authorised), for assertions. */
  readonly counts: { unauthorised: number; served: number };
  close(): Promise<void>;
}

const BACKEND = path.join(execFileSync('git', ['--exec-path'], { encoding: 'utf8' }).trim(), 'git-http-backend');

/** Serves the repositories under `root` (directory names are the repository names). */
export async function startGitHttpServer(root: string, creds: { user: string; token: string }): Promise<GitHttpServer> {
  const expected = `Basic ${Buffer.from(`${creds.user}:${creds.token}`).toString('base64')}`;
  const counts = { unauthorised: 0, served: 0 };
  const server = http.createServer((req, res) => {
    if (req.headers.authorization !== expected) {
      counts.unauthorised++;
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="test"' }).end('credentials required\n');
      return;
    }
    counts.served++;
    runBackend(root, req, res, creds.user);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    counts,
    url: (name) => `http://127.0.0.1:${port}/${name}`,
    urlWithCredentials: (name) => `http://${encodeURIComponent(creds.user)}:${encodeURIComponent(creds.token)}@127.0.0.1:${port}/${name}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** One CGI call: request body to the backend's stdin, its `Status:` and headers to the response. */
function runBackend(root: string, req: http.IncomingMessage, res: http.ServerResponse, user: string): void {
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
