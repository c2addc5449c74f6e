/**
 * A real SMTP server (the `smtp-server` package) on 127.0.0.1 that keeps every message the daemon sends, so tests can
 * assert on what a user would receive. Plain SMTP by default (no STARTTLS; AUTH PLAIN/LOGIN allowed without TLS).
 * With `tls` it serves implicit TLS (`secure: true`, the port-465 kind) or offers STARTTLS (the port-587 kind), and
 * with `oauth2` it accepts SASL XOAUTH2 logins checked by a callback (e.g. the local token server's checkToken()).
 */
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';

export interface SmtpCaptureOptions {
  /** Default: a free port. */
  port?: number;
  /** With `tls`: true = implicit TLS from the first byte (465 kind); false/absent = STARTTLS offered (587 kind). */
  secure?: boolean;
  /** Key and certificate (PEM) to serve TLS with; see `secure`. Without it the server is plain and offers no STARTTLS. */
  tls?: { key: string; cert: string };
  /** With `tls` and not `secure`: do not offer (nor accept) STARTTLS — a server a `starttls` client must refuse. */
  hideStartTls?: boolean;
  /**
   * Advertise and accept AUTH XOAUTH2: `check(user, accessToken)` says whether the token is live for that user. A bad
   * token gets the RFC 7628 / Google-style failure (a 334 challenge with a JSON status, then 535). Or pass the token
   * server (oauth-server.ts) itself: a token is good when it is live and issued for that user.
   */
  oauth2?: ((user: string, accessToken: string) => boolean) | { checkToken(token: string): string | null };
  /** When given, AUTH is required and must match; otherwise AUTH is optional and any credentials are accepted. */
  authUsers?: Record<string, string>;
  /** Start in refusing mode (see setRefusing). */
  refuse?: boolean;
}

export interface CapturedAttachment {
  filename: string | undefined;
  contentType: string;
  content: Buffer;
}

export interface CapturedMessage {
  envelope: { mailFrom: string | false; rcptTo: string[] };
  /** The user that authenticated on the connection, if any. */
  authUser: string | undefined;
  /** The SASL method of that login ('PLAIN', 'LOGIN', 'XOAUTH2'), if any. */
  authMethod: string | undefined;
  /** Whether the connection was TLS (implicit or after STARTTLS) when the message was sent. */
  secure: boolean;
  raw: Buffer;
  parsed: ParsedMail;
  /** Header lines as sent, in order: [lowercased name, full line]. */
  headerLines: Array<{ key: string; line: string }>;
  subject: string | undefined;
  from: string | undefined;
  to: string[];
  messageId: string | undefined;
  inReplyTo: string | undefined;
  references: string[];
  text: string | undefined;
  html: string | undefined;
  attachments: CapturedAttachment[];
  receivedAt: Date;
  /** First value of a header (case-insensitive), as mailparser decoded it to a string. */
  header(name: string): string | undefined;
}

export interface SmtpCapture {
  readonly host: string;
  readonly port: number;
  /** Everything accepted so far, oldest first. */
  readonly messages: CapturedMessage[];
  /** How many MAIL FROM / DATA commands were refused while refusing. */
  readonly refusedCount: number;
  waitFor(predicate: (m: CapturedMessage) => boolean, timeoutMs?: number): Promise<CapturedMessage>;
  waitForCount(n: number, timeoutMs?: number): Promise<CapturedMessage[]>;
  /** While refusing, MAIL FROM and DATA get `451 4.3.0` — a temporary error, so a correct client retries later. */
  setRefusing(refusing: boolean): void;
  /**
   * Holds the answer to the next message whose raw text matches: the client has sent all of DATA and
   * waits for the server's verdict, i.e. the send is in flight. `mode` says what the server has
   * done with the message meanwhile:
   *   - `unconfirmed`: nothing yet. On release it is kept and answered 250 only if the client is
   *     still connected; a client that went away never gets it delivered (no 250 was sent).
   *   - `kept`: already captured; only the "250 OK" is held back (the window in which a client
   *     that dies cannot know the mail arrived).
   */
  holdNext(match: (raw: string) => boolean, mode: HoldMode): HeldSend;
  /** Client connections accepted so far, and those still open (a pooled client keeps one open). */
  readonly connectionCount: number;
  readonly openConnections: number;
  /**
   * The next MAIL FROM gets no answer: the server drops that connection instead, as one that ends
   * an idle session just as the client starts its next message.
   */
  dropAtNextMailFrom(): void;
  /** Destroys every client connection now, without a word (a crash or a cut network). */
  dropAll(): void;
  /** Forget captured messages. */
  clear(): void;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';

export type HoldMode = 'unconfirmed' | 'kept';

export interface HeldSend {
  /** Resolves when a matching message is being held. */
  readonly held: Promise<void>;
  /** Resolves when the client of the held message has closed its connection. */
  readonly clientGone: Promise<void>;
  /** Answers the held message (see `holdNext`). Resolves when done; whether it was delivered. */
  release(): Promise<{ delivered: boolean }>;
}

interface HoldRule {
  readonly match: (raw: string) => boolean;
  readonly mode: HoldMode;
  readonly onHeld: (sessionId: string) => void;
  readonly released: Promise<void>;
  readonly outcome: (o: { delivered: boolean }) => void;
}

function temporaryError(message: string): Error & { responseCode: number } {
  return Object.assign(new Error(message), { responseCode: 451 });
}

function addressesOf(value: ParsedMail['to']): string[] {
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.flatMap((a) => a.value.map((v) => v.address ?? '')).filter((a) => a.length > 0);
}

function headerToString(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map((v) => headerToString(v)).join(', ');
  if (typeof value === 'object' && 'text' in value && typeof (value as { text: unknown }).text === 'string') {
    return (value as { text: string }).text;
  }
  if (typeof value === 'object' && 'value' in value) {
    const v = (value as { value: unknown; params?: Record<string, string> }).value;
    const params = (value as { params?: Record<string, string> }).params ?? {};
    const suffix = Object.entries(params)
      .map(([k, p]) => `; ${k}=${p}`)
      .join('');
    return `${headerToString(v) ?? ''}${suffix}`;
  }
  return String(value);
}

function toCaptured(
  raw: Buffer,
  parsed: ParsedMail,
  session: SMTPServerSession,
  authMethod: string | undefined,
): CapturedMessage {
  const references = parsed.references === undefined ? [] : Array.isArray(parsed.references) ? parsed.references : [parsed.references];
  return {
    envelope: {
      mailFrom: session.envelope.mailFrom === false ? false : session.envelope.mailFrom.address,
      rcptTo: session.envelope.rcptTo.map((r) => r.address),
    },
    authUser: session.user,
    authMethod,
    secure: session.secure,
    raw,
    parsed,
    headerLines: parsed.headerLines.map((h) => ({ key: h.key, line: h.line })),
    subject: parsed.subject,
    from: parsed.from?.value[0]?.address,
    to: addressesOf(parsed.to),
    messageId: parsed.messageId,
    inReplyTo: parsed.inReplyTo,
    references,
    text: parsed.text,
    html: parsed.html === false ? undefined : parsed.html,
    attachments: parsed.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, content: a.content })),
    receivedAt: new Date(),
    header: (name: string) => headerToString(parsed.headers.get(name.toLowerCase())),
  };
}

function tokenIsGood(check: SmtpCaptureOptions['oauth2'], user: string, token: string): boolean {
  if (check === undefined) return false;
  return typeof check === 'function' ? check(user, token) : check.checkToken(token) === user;
}

/** smtp-server's TLS options for the capture's mode: plain, implicit TLS, STARTTLS, or TLS without STARTTLS. */
function transportOptions(opts: SmtpCaptureOptions): Pick<SMTPServerOptions, 'secure' | 'key' | 'cert' | 'disabledCommands' | 'hideSTARTTLS'> {
  if (opts.tls === undefined) {
    if (opts.secure === true) throw new Error('smtp capture: secure: true needs tls: { key, cert }');
    return { secure: false, disabledCommands: ['STARTTLS'] };
  }
  const { key, cert } = opts.tls;
  if (opts.secure === true) return { secure: true, key, cert };
  if (opts.hideStartTls === true) return { secure: false, key, cert, disabledCommands: ['STARTTLS'], hideSTARTTLS: true };
  return { secure: false, key, cert };
}

/** Starts the capture server on 127.0.0.1 (see SmtpCaptureOptions for TLS and XOAUTH2). */
export async function startSmtpCapture(opts: SmtpCaptureOptions = {}): Promise<SmtpCapture> {
  const messages: CapturedMessage[] = [];
  const events = new EventEmitter();
  events.setMaxListeners(0);
  let refusing = opts.refuse ?? false;
  let refusedCount = 0;
  let hold: HoldRule | null = null;
  const closedSessions = new Set<string>();
  const authUsers = opts.authUsers;
  // The SASL method each session logged in with, for CapturedMessage.authMethod.
  const authMethods = new Map<string, string>();
  let connectionCount = 0;
  let openConnections = 0;
  let dropAtMailFrom = false;

  const server = new SMTPServer({
    ...transportOptions(opts),
    allowInsecureAuth: true,
    authMethods: opts.oauth2 === undefined ? ['PLAIN', 'LOGIN'] : ['PLAIN', 'LOGIN', 'XOAUTH2'],
    authOptional: authUsers === undefined && opts.oauth2 === undefined,
    logger: false,
    banner: 'airut-ts test capture',
    // stop() must not wait the default 30 s for pooled client connections.
    closeTimeout: 100,
    onAuth(auth, session, callback) {
      const username = auth.username ?? '';
      if (auth.method === 'XOAUTH2') {
        if (!tokenIsGood(opts.oauth2, username, auth.accessToken ?? '')) {
          // smtp-server sends this as the 334 challenge (base64 JSON), then 535 once the client answers it.
          callback(null, { data: { status: '401', schemes: 'bearer', scope: 'https://mail.google.com/' } });
          return;
        }
      } else if (authUsers !== undefined && (!(username in authUsers) || authUsers[username] !== auth.password)) {
        callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
        return;
      }
      authMethods.set(session.id, auth.method);
      callback(null, { user: username });
    },
    onConnect(_session, callback) {
      connectionCount++;
      openConnections++;
      callback();
    },
    onMailFrom(_address, session, callback) {
      if (dropAtMailFrom) {
        dropAtMailFrom = false;
        socketsOf((c) => c.id === session.id).forEach((s) => s.destroy());
        return;
      }
      if (refusing) {
        refusedCount++;
        callback(temporaryError('4.3.0 Mail server temporarily refusing mail, try again later'));
        return;
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', (err) => callback(err));
      stream.on('end', () => {
        if (refusing) {
          refusedCount++;
          callback(temporaryError('4.3.0 Mail server temporarily refusing mail, try again later'));
          return;
        }
        const raw = Buffer.concat(chunks);
        const keep = async (): Promise<void> => {
          const parsed = await simpleParser(raw, { skipImageLinks: true, skipTextToHtml: true });
          const message = toCaptured(raw, parsed, session, authMethods.get(session.id));
          messages.push(message);
          events.emit('message', message);
        };
        const rule = hold !== null && hold.match(raw.toString('latin1')) ? hold : null;
        if (rule) hold = null;
        void (async () => {
          if (rule?.mode === 'kept') await keep();
          if (rule) {
            rule.onHeld(session.id);
            await rule.released;
            const gone = closedSessions.has(session.id);
            if (rule.mode === 'unconfirmed' && !gone) await keep();
            rule.outcome({ delivered: rule.mode === 'kept' || !gone });
            if (gone) return;
          } else {
            await keep();
          }
          callback();
        })().catch((err: unknown) => callback(err instanceof Error ? err : new Error(String(err))));
      });
    },
    onClose(session) {
      openConnections--;
      closedSessions.add(session.id);
      authMethods.delete(session.id);
      events.emit('closed', session.id);
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // smtp-server keeps its live connections in a set it does not type; each holds its socket.
  function socketsOf(which: (c: { id: string }) => boolean): Array<{ destroy(): void }> {
    const live = (server as unknown as { connections: Set<{ id: string; _socket: { destroy(): void } }> }).connections;
    return [...live].filter(which).map((c) => c._socket);
  }
  // A client dropping the connection mid-session must not crash the test process.
  server.on('error', () => undefined);
  const port = (server.server.address() as AddressInfo).port;

  const describe = (): string =>
    messages.length === 0
      ? 'nothing was captured'
      : `captured ${messages.length}: ${messages.map((m) => JSON.stringify(m.subject)).join(', ')}`;

  const waitFor = (predicate: (m: CapturedMessage) => boolean, timeoutMs = 10_000): Promise<CapturedMessage> => {
    const existing = messages.find(predicate);
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const onMessage = (m: CapturedMessage): void => {
        if (!predicate(m)) return;
        clearTimeout(timer);
        events.off('message', onMessage);
        resolve(m);
      };
      const timer = setTimeout(() => {
        events.off('message', onMessage);
        reject(new Error(`smtp capture: no matching message within ${timeoutMs} ms (${describe()})`));
      }, timeoutMs);
      events.on('message', onMessage);
    });
  };

  const waitForCount = (n: number, timeoutMs = 10_000): Promise<CapturedMessage[]> => {
    if (messages.length >= n) return Promise.resolve(messages.slice());
    return new Promise((resolve, reject) => {
      const onMessage = (): void => {
        if (messages.length < n) return;
        clearTimeout(timer);
        events.off('message', onMessage);
        resolve(messages.slice());
      };
      const timer = setTimeout(() => {
        events.off('message', onMessage);
        reject(new Error(`smtp capture: expected ${n} messages within ${timeoutMs} ms (${describe()})`));
      }, timeoutMs);
      events.on('message', onMessage);
    });
  };

  let stopped: Promise<void> | undefined;
  return {
    host: HOST,
    port,
    messages,
    get refusedCount() {
      return refusedCount;
    },
    waitFor,
    waitForCount,
    get connectionCount() {
      return connectionCount;
    },
    get openConnections() {
      return openConnections;
    },
    dropAtNextMailFrom() {
      dropAtMailFrom = true;
    },
    dropAll() {
      socketsOf(() => true).forEach((s) => s.destroy());
    },
    setRefusing(value: boolean) {
      refusing = value;
    },
    holdNext(match, mode) {
      let onHeld!: (sessionId: string) => void;
      const heldSession = new Promise<string>((r) => (onHeld = r));
      const held = heldSession.then(() => undefined);
      const clientGone = heldSession.then(
        (id) =>
          new Promise<void>((resolve) => {
            if (closedSessions.has(id)) return resolve();
            const onClosed = (closed: string): void => {
              if (closed !== id) return;
              events.off('closed', onClosed);
              resolve();
            };
            events.on('closed', onClosed);
          }),
      );
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      let outcome!: (o: { delivered: boolean }) => void;
      const done = new Promise<{ delivered: boolean }>((r) => (outcome = r));
      hold = { match, mode, onHeld, released, outcome };
      return {
        held,
        clientGone,
        release() {
          release();
          return done;
        },
      };
    },
    clear() {
      messages.length = 0;
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => server.close(() => resolve()));
      return stopped;
    },
  };
}
