/**
 * The pod gateway: the one TCP port of the daemon that task pods may reach (their NetworkPolicy
 * allows nothing else). It serves two things, both authenticated per task by a random token the
 * runner writes next to the task proxy's sockets (`<stateDir>/tasks/<id>/sock/gateway-token`):
 *
 * 1. An HTTP proxy: a request or CONNECT carrying `Proxy-Authorization: Basic task-<id>:<token>` is
 *    piped, head and all (minus that header), to the task's explicit-proxy socket — the same
 *    ConversationProxy a podman task uses, which enforces the allowlist, masks secrets and logs.
 *    Later requests on a kept-alive connection go through as they come: the connection is already
 *    bound to that task, and the proxy drops Proxy-Authorization as a hop-by-hop header.
 * 2. The state bundle: `GET /airut-state/<id>/<token>/in` streams state-in.tar, `POST …/out` stores
 *    the returned tar (Content-Length required and capped) as state-out.tar, atomically.
 *
 * Every failure of a state request is a bare 404, whether the task exists or not; a proxy request
 * without valid credentials gets 407. Tokens are compared in constant time (over their SHA-256, so
 * the buffers are always the same length) and never logged: log lines name the task id only.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from '../../log/logger.ts';
import { headEnd, headerValue, headWithoutProxyAuth, MAX_HEAD_BYTES, parseHead, routeOf, type RequestHead } from './gateway-request.ts';

/** A connection that sends no complete head within this long is closed. */
const HEAD_IDLE_MS = 10 * 60 * 1000;

/** Paths of one task under the sandbox state dir, and the token file the gateway checks. */
export function gatewayTaskPaths(stateDir: string, taskId: number): { dir: string; tokenFile: string; proxySocket: string; stateIn: string; stateOut: string } {
  const dir = path.join(stateDir, 'tasks', String(taskId));
  return {
    dir,
    tokenFile: path.join(dir, 'sock', 'gateway-token'),
    proxySocket: path.join(dir, 'sock', 'proxy.sock'),
    stateIn: path.join(dir, 'state-in.tar'),
    stateOut: path.join(dir, 'state-out.tar'),
  };
}

/** Creates the task's socket dir if needed and writes a fresh token (0600); returns it. */
export async function writeGatewayToken(stateDir: string, taskId: number): Promise<string> {
  const p = gatewayTaskPaths(stateDir, taskId);
  await fs.mkdir(path.dirname(p.tokenFile), { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString('base64url');
  // Written under a new name and renamed: a reader never sees half a token, and an old file's
  // looser mode is not inherited.
  const tmp = `${p.tokenFile}.${process.pid}.tmp`;
  await fs.writeFile(tmp, token, { mode: 0o600, flag: 'w' });
  await fs.chmod(tmp, 0o600);
  await fs.rename(tmp, p.tokenFile);
  return token;
}

const REASONS: Record<number, string> = {
  200: 'OK',
  404: 'Not Found',
  407: 'Proxy Authentication Required',
  411: 'Length Required',
  413: 'Content Too Large',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
};

function respond(socket: net.Socket, status: number, extra: string[] = []): void {
  const lines = [`HTTP/1.1 ${status} ${REASONS[status] ?? ''}`, 'Content-Length: 0', 'Connection: close', ...extra];
  socket.end(`${lines.join('\r\n')}\r\n\r\n`);
}

export class PodGateway {
  private readonly sockets = new Set<net.Socket>();
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly server: net.Server,
    private readonly o: { readonly stateDir: string; readonly maxStateBytes: number; readonly log: Logger },
  ) {}

  static async start(o: { host: string; port: number; stateDir: string; maxStateBytes: number; log: Logger }): Promise<PodGateway> {
    // allowHalfOpen: a client that half-closes after its body (busybox nc at end of input) still gets its answer.
    const server = net.createServer({ allowHalfOpen: true });
    const gw = new PodGateway(server, o);
    server.on('connection', (s) => gw.accept(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port, o.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return gw;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Stops listening and ends every open connection (running pods lose their proxy). Idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
    });
    return this.closing;
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setTimeout(HEAD_IDLE_MS, () => socket.destroy());
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      const end = headEnd(buf);
      if (end < 0 && buf.length <= MAX_HEAD_BYTES) return;
      socket.off('data', onData);
      socket.pause();
      if (end < 0 || end > MAX_HEAD_BYTES) return respond(socket, 431);
      const head = parseHead(buf.subarray(0, end - 4).toString('latin1'));
      if (!head) return respond(socket, 404);
      this.handle(socket, head, buf.subarray(end)).catch((err: Error) => {
        this.o.log.warn({ err: err.message }, 'pod gateway: a request failed');
        if (!socket.destroyed) respond(socket, 500);
      });
    };
    socket.on('data', onData);
  }

  private async handle(socket: net.Socket, head: RequestHead, rest: Buffer): Promise<void> {
    const route = routeOf(head);
    if (route.kind === 'not-found') return respond(socket, 404);
    if (route.kind === 'proxy-unauthenticated') return respond(socket, 407, ['Proxy-Authenticate: Basic realm="airut"']);
    const authentic = await this.tokenMatches(route.taskId, route.token);
    if (route.kind === 'proxy') {
      if (!authentic) {
        this.o.log.warn({ taskId: route.taskId }, 'pod gateway: proxy request with a wrong token');
        return respond(socket, 407, ['Proxy-Authenticate: Basic realm="airut"']);
      }
      return this.pipeToProxy(socket, route.taskId, head, rest);
    }
    if (!authentic) {
      this.o.log.warn({ taskId: route.taskId }, 'pod gateway: state request with a wrong token');
      return respond(socket, 404);
    }
    socket.setTimeout(HEAD_IDLE_MS, () => socket.destroy());
    return route.direction === 'in' ? this.sendStateIn(socket, route.taskId) : this.receiveStateOut(socket, route.taskId, head, rest);
  }

  private async tokenMatches(taskId: number, token: string): Promise<boolean> {
    let expected: string;
    try {
      expected = (await fs.readFile(gatewayTaskPaths(this.o.stateDir, taskId).tokenFile, 'utf8')).trim();
    } catch {
      return false;
    }
    if (expected === '') return false;
    const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
    return timingSafeEqual(digest(expected), digest(token));
  }

  private pipeToProxy(socket: net.Socket, taskId: number, head: RequestHead, rest: Buffer): void {
    socket.setTimeout(0);
    const upstream = net.connect(gatewayTaskPaths(this.o.stateDir, taskId).proxySocket);
    upstream.once('error', (err) => {
      this.o.log.warn({ taskId, err: err.message }, 'pod gateway: the task proxy socket could not be reached');
      if (upstream.bytesRead === 0 && !socket.destroyed) respond(socket, 502);
      else socket.destroy();
    });
    upstream.once('connect', () => {
      upstream.write(headWithoutProxyAuth(head));
      if (rest.length > 0) upstream.write(rest);
      socket.pipe(upstream);
      upstream.pipe(socket);
      socket.resume();
      socket.once('close', () => upstream.destroy());
      upstream.once('close', () => socket.destroy());
    });
  }

  private async sendStateIn(socket: net.Socket, taskId: number): Promise<void> {
    const file = gatewayTaskPaths(this.o.stateDir, taskId).stateIn;
    let size: number;
    try {
      size = (await fs.stat(file)).size;
    } catch {
      return respond(socket, 404);
    }
    socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\nContent-Length: ${size}\r\nConnection: close\r\n\r\n`);
    const stream = createReadStream(file);
    stream.on('error', () => socket.destroy());
    stream.pipe(socket);
    stream.once('end', () => this.o.log.info({ taskId, bytes: size }, 'pod gateway: state sent to the pod'));
  }

  private async receiveStateOut(socket: net.Socket, taskId: number, head: RequestHead, rest: Buffer): Promise<void> {
    const lengthText = headerValue(head, 'content-length');
    if (headerValue(head, 'transfer-encoding') !== null || lengthText === null || !/^[0-9]{1,15}$/.test(lengthText)) return respond(socket, 411);
    const length = Number(lengthText);
    if (length > this.o.maxStateBytes) {
      this.o.log.warn({ taskId, bytes: length, max: this.o.maxStateBytes }, 'pod gateway: returned state over the size limit');
      return respond(socket, 413);
    }
    const p = gatewayTaskPaths(this.o.stateDir, taskId);
    const partial = `${p.stateOut}.partial`;
    const handle = await fs.open(partial, 'w', 0o600);
    let complete = false;
    try {
      complete = await copyBody(socket, rest, length, (b) => handle.write(b).then(() => undefined));
      if (complete) await handle.sync();
    } finally {
      await handle.close();
    }
    if (!complete) {
      await fs.rm(partial, { force: true });
      this.o.log.warn({ taskId }, 'pod gateway: the returned state ended early');
      return void socket.destroy();
    }
    await fs.rename(partial, p.stateOut);
    this.o.log.info({ taskId, bytes: length }, 'pod gateway: state returned by the pod');
    respond(socket, 200);
  }
}

/** Copies exactly `length` body bytes (starting with `rest`) through `write`; false if the connection ended first. */
async function copyBody(socket: net.Socket, rest: Buffer, length: number, write: (b: Buffer) => Promise<void>): Promise<boolean> {
  let got = 0;
  const take = async (b: Buffer): Promise<void> => {
    const part = b.subarray(0, length - got);
    got += part.length;
    if (part.length > 0) await write(part);
  };
  await take(rest);
  if (got >= length) return true;
  // Events rather than `for await`: leaving an async iterator early would destroy the socket
  // before the 200 is written.
  return new Promise<boolean>((resolve, reject) => {
    let chain = Promise.resolve();
    const cleanup = (): void => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.pause();
    };
    const onData = (chunk: Buffer): void => {
      socket.pause();
      chain = chain.then(
        () => take(chunk).then(() => {
          if (got >= length) {
            cleanup();
            resolve(true);
          } else socket.resume();
        }),
      );
      chain.catch((err: unknown) => {
        cleanup();
        reject(err as Error);
      });
    };
    const onEnd = (): void => {
      void chain.then(() => {
        cleanup();
        resolve(got >= length);
      }, () => undefined);
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.resume();
  });
}
