/** A local HTTP receiver for webhook tests: answers each request with the next scripted status (the last one repeats). */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

export interface Receiver {
  readonly url: string;
  readonly requests: ReceivedRequest[];
  /** Replaces the script: the statuses of the next answers; 'hang' never answers; `{ redirect }` answers 302 to that path. */
  script(answers: ReadonlyArray<number | 'hang' | { readonly redirect: string }>): void;
  /** Resolves when `n` requests have arrived in all. */
  received(n: number): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  let answers: ReadonlyArray<number | 'hang' | { readonly redirect: string }> = [200];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const answer = answers[Math.min(requests.length - 1, answers.length - 1)] ?? 200;
      for (const w of waiters.filter((x) => requests.length >= x.n)) w.resolve();
      if (answer === 'hang') return;
      if (typeof answer === 'object') res.writeHead(302, { Location: answer.redirect }).end();
      else res.writeHead(answer, { 'Content-Type': 'text/plain' }).end(answer >= 300 ? 'nope' : 'ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/airut?token=abc`,
    requests,
    script(a) {
      answers = a;
      requests.length = 0;
    },
    received(n) {
      if (requests.length >= n) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
