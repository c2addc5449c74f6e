/**
 * Relays an upgrade request (WebSocket, h2c, …) that the proxy has already admitted.
 *
 * The client's socket is joined to the upstream's only once the upstream has answered
 * `101 Switching Protocols`. Until then the upstream gets the checked request and nothing else:
 * whatever the client sent after it (`clientHead`, and anything still unread on the socket) is
 * held back. A server that ignores the upgrade answers like any HTTP server and keeps the
 * connection open for more requests; joining the sockets regardless would let every request
 * pipelined behind the first (other paths, methods, even another Host) reach it unchecked, without
 * its masked secrets swapped. So any answer other than 101 is forwarded as one response and both
 * connections are closed; the held-back bytes are dropped.
 *
 * Node's HTTP client parses the upstream's answer (it tells a 101 from anything else, and frames
 * the body); the head is checked before it is written to the client, as in response-head.ts.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { closeAfterWrite, headerPairs, responseHeadProblem, serializeResponseHead, writeRawResponse } from './response-head.ts';

export interface UpgradeRelay {
  /** The client's socket, no longer parsed by Node's HTTP server. */
  readonly client: Duplex;
  /** Bytes the client sent after the request head: held until the upstream switched. */
  readonly clientHead: Buffer;
  /** The checked request to the upstream, not yet ended. */
  readonly upstream: http.ClientRequest;
  /** Registers a socket so closing the proxy cuts it. */
  readonly track: (socket: Duplex) => void;
  /** Called once, with the status the client got (the proxy's 502 included). */
  readonly done: (status: number, error?: string) => void;
  readonly describeError: (err: Error) => string;
}

/** Headers of a non-101 answer that describe the upstream connection, not the response. */
const CONNECTION_HEADERS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'content-length', 'upgrade', 'trailer']);

export function relayUpgrade(relay: UpgradeRelay): void {
  const { client, upstream } = relay;
  let answered = false;
  let reported = false;
  const done = (status: number, error?: string) => {
    if (reported) return;
    reported = true;
    relay.done(status, error);
  };
  const refuse = (message: string) => {
    answered = true;
    writeRawResponse(client, 502, `airut network sandbox: ${message}\n`);
    done(502, message);
  };
  client.on('close', () => upstream.destroy());

  upstream.on('upgrade', (res: http.IncomingMessage, upSocket: Duplex, upHead: Buffer) => {
    relay.track(upSocket);
    upSocket.on('error', () => upSocket.destroy());
    const headers = headerPairs(res.rawHeaders);
    const problem = responseHeadProblem(res.statusCode, res.statusMessage, headers);
    if (problem) {
      upSocket.destroy();
      refuse(`the upstream server sent a malformed response: ${problem}`);
      return;
    }
    answered = true;
    (upSocket as Duplex & { setTimeout?: (ms: number) => void }).setTimeout?.(0); // an open WebSocket may idle
    client.write(serializeResponseHead(101, res.statusMessage, headers));
    if (upHead.length > 0) client.write(upHead);
    if (relay.clientHead.length > 0) upSocket.write(relay.clientHead);
    upSocket.pipe(client);
    client.pipe(upSocket);
    upSocket.on('close', () => client.destroy());
    client.on('close', () => upSocket.destroy());
    done(101);
  });

  upstream.on('response', (res: http.IncomingMessage) => {
    const headers = headerPairs(res.rawHeaders).filter(([name]) => !CONNECTION_HEADERS.has(name.toLowerCase()));
    const problem = responseHeadProblem(res.statusCode, res.statusMessage, headers);
    if (problem) {
      upstream.destroy();
      refuse(`the upstream server sent a malformed response: ${problem}`);
      return;
    }
    answered = true;
    const status = res.statusCode!;
    client.write(serializeResponseHead(status, res.statusMessage, [...headers, ['Connection', 'close']]));
    res.pipe(client, { end: false });
    res.on('end', () => {
      closeAfterWrite(client);
      upstream.destroy();
      done(status);
    });
    res.on('error', () => {
      client.destroy();
      done(status, 'the upstream connection broke during the response');
    });
  });

  upstream.on('timeout', () => upstream.destroy(new Error('the upstream server did not answer in time')));
  upstream.on('error', (err) => {
    if (!answered) refuse(relay.describeError(err));
    else {
      client.destroy();
      done(502, relay.describeError(err));
    }
  });
  upstream.end();
}
