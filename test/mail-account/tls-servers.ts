/**
 * The TLS mail servers the listener, outbox and doctor tests share: a trusted test CA and an unknown
 * one; Dovecots serving a good certificate, a certificate for another host name, and no TLS at all;
 * and SMTP captures started on demand. Everything is stopped by `stop()`.
 */
import type { DovecotServer, DovecotUser } from '../harness/dovecot.ts';
import { startDovecot } from '../harness/dovecot.ts';
import { startSmtpCapture, type SmtpCapture, type SmtpCaptureOptions } from '../harness/smtp-capture.ts';
import { createTestTls, type TestTls } from '../harness/test-tls.ts';

export interface TlsMailServers {
  /** Signed the servers' certificates; give it to clients as `tls.ca_file`. */
  readonly ca: TestTls;
  /** Signed nothing here: a client trusting only it meets "unknown CA". */
  readonly unknownCa: TestTls;
  /** STARTTLS on `port`, IMAPS on `tlsPort`, certificate for 127.0.0.1 (started only with `users`). */
  readonly dovecot: DovecotServer;
  /** Certificate for wrong-host.test, served on 127.0.0.1. */
  readonly wrongHost: DovecotServer;
  /** No TLS at all: a `starttls` client must refuse it. */
  readonly plainOnly: DovecotServer;
  /** An SMTP capture with `defaults` and `opts`, stopped with the rest. */
  capture(opts: SmtpCaptureOptions): Promise<SmtpCapture>;
  stop(): Promise<void>;
}

export interface TlsMailServersOptions {
  /** Mailboxes of the three Dovecots; without them no Dovecot is started (SMTP-only tests). */
  readonly users?: DovecotUser[];
  /** For the good Dovecot: accept OAuth2 tokens checked at this introspection URL. */
  readonly introspectionUrl?: string;
  /** Options every capture() starts with. */
  readonly captureDefaults?: SmtpCaptureOptions;
}

export async function startTlsMailServers(o: TlsMailServersOptions = {}): Promise<TlsMailServers> {
  const ca = createTestTls('airut test mail CA');
  const unknownCa = createTestTls('airut test unknown CA');
  const captures: SmtpCapture[] = [];
  const dovecots: DovecotServer[] = [];
  const start = async (opts: Parameters<typeof startDovecot>[0]): Promise<DovecotServer> => {
    const d = await startDovecot(opts);
    dovecots.push(d);
    return d;
  };
  const stop = async (): Promise<void> => {
    await Promise.all([...dovecots.map((d) => d.stop()), ...captures.map((c) => c.stop())]);
    ca.remove();
    unknownCa.remove();
  };
  const noDovecot = new Proxy({} as DovecotServer, {
    get: () => {
      throw new Error('tls-servers: no Dovecot was started (pass users)');
    },
  });
  let servers = { dovecot: noDovecot, wrongHost: noDovecot, plainOnly: noDovecot };
  try {
    if (o.users) {
      const good = ca.serverOptions('127.0.0.1');
      const bad = ca.serverOptions('wrong-host.test');
      const oauth2 = o.introspectionUrl === undefined ? {} : { oauth2: { introspectionUrl: o.introspectionUrl } };
      servers = {
        dovecot: await start({ users: o.users, tls: { certPem: good.cert, keyPem: good.key }, ...oauth2 }),
        wrongHost: await start({ users: o.users, tls: { certPem: bad.cert, keyPem: bad.key } }),
        plainOnly: await start({ users: o.users }),
      };
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    ca,
    unknownCa,
    ...servers,
    async capture(opts) {
      const c = await startSmtpCapture({ ...o.captureDefaults, ...opts });
      captures.push(c);
      return c;
    },
    stop,
  };
}
