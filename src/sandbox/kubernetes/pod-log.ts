/**
 * Follows one container's log. Not through the client's `Log` class: it pipes the response into the caller's stream
 * so a dropped connection leaves that stream open forever, and for a 400 ("container is waiting to start") it throws
 * without the server's message. Here the request is made with node:http(s), authenticated by the kubeconfig's own
 * `applyToHTTPSOptions` (CA, client certificate, token), and the returned stream ends, or fails, with the response.
 */
import http from 'node:http';
import https from 'node:https';
import { PassThrough, type Readable } from 'node:stream';
import type { KubeConfig } from '@kubernetes/client-node';

export interface LogTarget {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
}

/** An HTTP answer that was not 200, for `toError`. */
export class LogRequestFailed extends Error {
  readonly statusCode: number;
  readonly body: string;

  constructor(statusCode: number, body: string) {
    super(`log request answered ${statusCode}`);
    this.statusCode = statusCode;
    this.body = body;
  }
}

/**
 * Resolves once the server has answered 200, with a stream of the log from the container's start. `toError` turns a
 * refusal or an unreachable server into the caller's error. An abort ends the stream cleanly; a dropped connection
 * destroys it with an error.
 */
export async function followContainerLog(config: KubeConfig, target: LogTarget, signal: AbortSignal,
  toError: (err: unknown) => Error): Promise<Readable> {
  const cluster = config.getCurrentCluster();
  if (!cluster) throw toError(new Error('the kubeconfig names no cluster'));
  const url = new URL(`${cluster.server}/api/v1/namespaces/${encodeURIComponent(target.namespace)}/pods/` +
    `${encodeURIComponent(target.pod)}/log`);
  url.searchParams.set('container', target.container);
  url.searchParams.set('follow', 'true');
  const options: https.RequestOptions = { headers: {} };
  await config.applyToHTTPSOptions(options);
  const send = url.protocol === 'https:' ? https.request : http.request;
  return new Promise<Readable>((resolve, reject) => {
    const req = send(url, { ...options, method: 'GET', signal }, (res) => {
      if (res.statusCode !== 200) {
        collect(res).then((body) => reject(toError(new LogRequestFailed(res.statusCode ?? 0, body))), reject);
        return;
      }
      resolve(pipeUntilAbort(res, signal));
    });
    req.on('error', (err) => reject(signal.aborted ? toError(new Error('aborted')) : toError(err)));
    req.end();
  });
}

/** The log as a stream the caller owns: it ends on abort, and fails when the connection drops mid-way. */
function pipeUntilAbort(res: http.IncomingMessage, signal: AbortSignal): Readable {
  const out = new PassThrough();
  res.pipe(out);
  res.on('error', (err) => {
    if (signal.aborted) out.end();
    else out.destroy(err);
  });
  signal.addEventListener('abort', () => {
    res.unpipe(out);
    res.destroy();
    out.end();
  }, { once: true });
  return out;
}

async function collect(res: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').slice(0, 4096);
}

