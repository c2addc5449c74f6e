/**
 * A private, real Dovecot IMAP server for integration tests.
 *
 * Every instance gets its own temp dir (config, passwd-file, maildirs, base_dir, state_dir, logs) and its own port, so
 * any number can run side by side, also across the parallel processes of `node --test`. Tests deliver mail with IMAP
 * APPEND, which lets them put any Authentication-Results header they like on top of the message.
 *
 * Optionally it serves TLS (STARTTLS on the plain port, implicit TLS on `tlsPort`) with a certificate from a test CA
 * (test-tls.ts), and OAuth2 logins (SASL XOAUTH2 / OAUTHBEARER) checked against a token-introspection URL
 * (oauth-server.ts). Password logins keep working on the plain port either way, for the harness's own helpers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createPrivateKey, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ImapFlow, type ImapFlowOptions } from 'imapflow';
import { freePort } from './ports.ts';

export interface DovecotUser {
  user: string;
  password: string;
}

export interface DovecotOptions {
  users: DovecotUser[];
  /** Fixed IMAP port; default: a free one. */
  port?: number;
  /** Dovecot binary; default `$DOVECOT_BIN` or /usr/sbin/dovecot. */
  binary?: string;
  /** How long start() waits for the greeting; default 10 s. */
  startTimeoutMs?: number;
  /**
   * Run Dovecot in its own process group, so a Ctrl-C in the terminal reaches only our process, which
   * then stops Dovecot in order (the demo does this). Default false.
   */
  detached?: boolean;
  /**
   * Serve TLS with this key and certificate (PEM text or file paths): `ssl = yes`, so the plain port offers STARTTLS
   * (without requiring it), and an implicit-TLS listener (the IMAPS kind) on `tlsPort`.
   */
  tls?: DovecotTls;
  /**
   * Accept OAuth2 access tokens (SASL XOAUTH2 and OAUTHBEARER) through Dovecot's `oauth2` passdb, which asks
   * `introspectionUrl` (RFC 7662, POST) whether a token is live and which user it logs in as. Password users keep
   * working alongside. The token's user must be one of `users` (the userdb is the same passwd-file).
   */
  oauth2?: { introspectionUrl: string };
}

/** A key and certificate for Dovecot, either as PEM text or as paths to PEM files. */
export type DovecotTls = { certPem: string; keyPem: string } | { certPath: string; keyPath: string };

export interface InboxMessage {
  uid: number;
  /** Sorted, e.g. `['\\Seen']`. */
  flags: string[];
  messageId: string | undefined;
  subject: string | undefined;
}

export interface DovecotServer {
  readonly host: string;
  /** Plain IMAP; offers STARTTLS when started with `tls`. */
  readonly port: number;
  /** The implicit-TLS (IMAPS) port when started with `tls`; otherwise undefined. */
  readonly tlsPort: number | undefined;
  /** The instance's temp dir (config, mail, logs); removed by stop(). */
  readonly dir: string;
  readonly users: readonly DovecotUser[];
  /** Options for `new ImapFlow(...)` that log in as `user` on the plain port (no TLS, not even STARTTLS; no logger, no auto-IDLE). */
  clientOptions(user: string, overrides?: Partial<ImapFlowOptions>): ImapFlowOptions;
  /** A connected, logged-in client. The caller logs out / closes it. */
  connect(user: string, overrides?: Partial<ImapFlowOptions>): Promise<ImapFlow>;
  /** Delivers a raw message to the user's INBOX; resolves with the new UID when the server reports it. */
  append(user: string, rawMessage: string | Buffer, flags?: string[]): Promise<{ uid: number | undefined }>;
  listInbox(user: string): Promise<InboxMessage[]>;
  countInbox(user: string): Promise<number>;
  /** Stops and starts again on the same port; mail survives. For outage tests. */
  restart(): Promise<void>;
  /** Stops Dovecot only (mail kept) — for an outage that lasts longer than restart(). */
  stopServer(): Promise<void>;
  /** Starts it again after stopServer(), on the same port. */
  startServer(): Promise<void>;
  /** SIGTERM (SIGKILL after a few seconds), then remove the temp dir. Safe to call twice. */
  stop(): Promise<void>;
  /** The last lines of Dovecot's log and stderr, for assertion messages. */
  logTail(lines?: number): string;
}

const HOST = '127.0.0.1';
const STOP_GRACE_MS = 4_000;

// Dovecots must not outlive a test process that crashes or forgets stop().
const running = new Set<ChildProcess>();
const tempDirs = new Set<string>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

interface Identity {
  loginUser: string;
  internalUser: string;
  /** Only set as non-root: the group Dovecot gives its internal sockets. */
  internalGroup?: string;
  mailUid: number;
  mailGid: number;
}

function lookupPasswd(name: string): { uid: number; gid: number } | undefined {
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const fields = line.split(':');
      if (fields[0] === name && fields[2] !== undefined && fields[3] !== undefined) {
        return { uid: Number(fields[2]), gid: Number(fields[3]) };
      }
    }
  } catch {
    // no /etc/passwd: fall through to the defaults
  }
  return undefined;
}

function groupName(gid: number): string | undefined {
  try {
    for (const line of fs.readFileSync('/etc/group', 'utf8').split('\n')) {
      const fields = line.split(':');
      if (fields[2] === String(gid) && fields[0]) return fields[0];
    }
  } catch {
    // no /etc/group
  }
  return undefined;
}

/**
 * Dovecot as root refuses to run imap-login as root ("This process must not be run as root") and refuses mail
 * access as uid 0 ("Mail access not allowed for root"), so as root the login processes use dovenull and the mail
 * is owned by the `dovecot` user. As non-root, everything runs as the current user.
 */
function identity(): Identity {
  const uid = process.getuid?.() ?? 0;
  if (uid !== 0) {
    const me = os.userInfo();
    const group = groupName(me.gid) ?? String(me.gid);
    return { loginUser: me.username, internalUser: me.username, internalGroup: group, mailUid: me.uid, mailGid: me.gid };
  }
  const loginUser = lookupPasswd('dovenull') ? 'dovenull' : 'nobody';
  const mailOwner = lookupPasswd('dovecot') ?? lookupPasswd('nobody') ?? { uid: 65534, gid: 65534 };
  return { loginUser, internalUser: 'root', mailUid: mailOwner.uid, mailGid: mailOwner.gid };
}

function checkUser(u: DovecotUser): void {
  if (!u.user || /[:\s/]/.test(u.user)) throw new Error(`dovecot harness: invalid user name ${JSON.stringify(u.user)}`);
  if (/[:\r\n]/.test(u.password)) throw new Error(`dovecot harness: password of ${u.user} must not contain ':' or newlines`);
}

/**
 * Dovecot loads the certificate only when the first TLS client arrives, so a bad one would show up as a failed
 * handshake in some later test: check it here, at start.
 */
function checkTlsPair(certPem: string, keyPem: string): void {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (err) {
    throw new Error(`dovecot harness: tls certificate is not a PEM certificate (${(err as Error).message})`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new Error(`dovecot harness: tls key is not a PEM private key (${(err as Error).message})`);
  }
  if (!cert.checkPrivateKey(key)) throw new Error(`dovecot harness: tls key does not belong to the certificate for ${cert.subject.replace(/\n/g, ', ')}`);
}

/** What renderConfig() needs besides the directory and identity. */
interface ConfigShape {
  port: number;
  greeting: string;
  /** Set when TLS is on: the IMAPS port (key and certificate files are <dir>/ssl.key and <dir>/ssl.crt). */
  tlsPort: number | undefined;
  /** Set when OAuth2 is on (its settings are in <dir>/dovecot-oauth2.conf.ext). */
  oauth2: boolean;
}

function sslSettings(dir: string, shape: ConfigShape): string {
  if (shape.tlsPort === undefined) return 'ssl = no\n';
  // `ssl = yes` offers STARTTLS without requiring it; disable_plaintext_auth = no keeps plain logins for the helpers.
  return `ssl = yes
ssl_cert = <${dir}/ssl.crt
ssl_key = <${dir}/ssl.key
ssl_min_protocol = TLSv1.2
`;
}

/** The passdbs: passwords for PLAIN/LOGIN, and, with OAuth2 on, access tokens for XOAUTH2/OAUTHBEARER. */
function passdbSettings(dir: string, shape: ConfigShape): string {
  const oauth2 = shape.oauth2
    ? `passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = ${dir}/dovecot-oauth2.conf.ext
}
`
    : '';
  // Dovecot 2.3.19 holds every failed login for up to 500 ms even with auth_failure_delay = 0, unless the request
  // carries "nodelay". A failed passdb's fields are rolled back, so a first passdb that never decides
  // (noauthenticate) adds it for every login.
  return `passdb {
  driver = static
  args = nopassword noauthenticate nodelay=yes
}
passdb {
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%Lu ${dir}/passwd
}
${oauth2}`;
}

function renderConfig(dir: string, shape: ConfigShape, id: Identity): string {
  const { port, greeting } = shape;
  const mechanisms = shape.oauth2 ? 'plain login xoauth2 oauthbearer' : 'plain login';
  return `# generated by test/harness/dovecot.ts
base_dir = ${dir}/run
state_dir = ${dir}/state
instance_name = airut-test-${path.basename(dir)}
listen = ${HOST}
protocols = imap
${sslSettings(dir, shape)}disable_plaintext_auth = no
auth_mechanisms = ${mechanisms}
login_greeting = ${greeting}
log_path = ${dir}/dovecot.log
# An empty writer socket keeps shutdown from stalling 5 s waiting for the stats process.
stats_writer_socket_path =
# One bad login must not slow every later login by seconds.
auth_failure_delay = 0
mail_max_userip_connections = 500
# One imap process per connection: the default of 100 processes is too few for the scale bench's 100 IDLE sessions.
default_process_limit = 1000
default_client_limit = 5000
default_login_user = ${id.loginUser}
default_internal_user = ${id.internalUser}
${id.internalGroup === undefined ? '' : `default_internal_group = ${id.internalGroup}\n`}mail_uid = ${id.mailUid}
mail_gid = ${id.mailGid}
first_valid_uid = 1
first_valid_gid = 1
mail_home = ${dir}/mail/%u
mail_location = maildir:${dir}/mail/%u/Maildir
${passdbSettings(dir, shape)}userdb {
  driver = passwd-file
  args = username_format=%Lu ${dir}/passwd
}
# No chroots: a non-root Dovecot can't chroot, and a test server gains nothing from it.
service imap-login {
  chroot =
  inet_listener imap {
    address = ${HOST}
    port = ${port}
  }
  inet_listener imaps {
    address = ${HOST}
    port = ${shape.tlsPort ?? 0}
    ssl = yes
  }
}
service anvil {
  chroot =
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
`;
}

class DovecotInstance implements DovecotServer {
  readonly host = HOST;
  port = 0;
  tlsPort: number | undefined;
  readonly users: readonly DovecotUser[];
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly greeting = `airut-test-dovecot-${randomBytes(6).toString('hex')}`;
  private removed = false;

  constructor(
    readonly dir: string,
    users: DovecotUser[],
    private readonly binary: string,
    private readonly startTimeoutMs: number,
    private readonly detached = false,
    private readonly extras: Pick<DovecotOptions, 'tls' | 'oauth2'> = {},
  ) {
    this.users = users.map((u) => ({ ...u }));
  }

  private shape(): ConfigShape {
    return { port: this.port, greeting: this.greeting, tlsPort: this.tlsPort, oauth2: this.extras.oauth2 !== undefined };
  }

  /** The TLS key and certificate files, and the oauth2 passdb's settings file, when those are on. */
  private async writeExtraFiles(): Promise<void> {
    const { tls, oauth2 } = this.extras;
    if (tls !== undefined) {
      const cert = 'certPem' in tls ? tls.certPem : await fsp.readFile(tls.certPath, 'utf8');
      const key = 'keyPem' in tls ? tls.keyPem : await fsp.readFile(tls.keyPath, 'utf8');
      checkTlsPair(cert, key);
      await fsp.writeFile(path.join(this.dir, 'ssl.crt'), cert);
      await fsp.writeFile(path.join(this.dir, 'ssl.key'), key, { mode: 0o600 });
    }
    if (oauth2 !== undefined) {
      if (/[\s"]/.test(oauth2.introspectionUrl)) throw new Error(`dovecot harness: bad introspection URL ${JSON.stringify(oauth2.introspectionUrl)}`);
      // RFC 7662 introspection: POST token=..., the answer's "active" says whether the token is live and "username"
      // which user it logs in as (checked against the user the client named).
      const conf = `introspection_mode = post
introspection_url = ${oauth2.introspectionUrl}
username_attribute = username
active_attribute = active
active_value = true
`;
      await fsp.writeFile(path.join(this.dir, 'dovecot-oauth2.conf.ext'), conf, { mode: 0o644 });
    }
  }

  async writeFiles(id: Identity): Promise<void> {
    for (const sub of ['run', 'state', 'mail']) await fsp.mkdir(path.join(this.dir, sub), { recursive: true });
    // mkdtemp makes the dir 0700; mail processes run as the mail uid and must reach <dir>/mail.
    await fsp.chmod(this.dir, 0o755);
    await fsp.chown(path.join(this.dir, 'mail'), id.mailUid, id.mailGid).catch(() => undefined);
    // Empty uid/gid/home fields: mail_uid/mail_gid/mail_home apply (passwd-file rejects uid 0 outright).
    const passwd = this.users.map((u) => `${u.user.toLowerCase()}:{PLAIN}${u.password}::::::\n`).join('');
    await fsp.writeFile(path.join(this.dir, 'passwd'), passwd, { mode: 0o644 });
    await this.writeExtraFiles();
  }

  async startServer(): Promise<void> {
    if (this.child) return;
    const id = identity();
    await fsp.writeFile(path.join(this.dir, 'dovecot.conf'), renderConfig(this.dir, this.shape(), id));
    const logStart = this.logSizes();
    const stderrFd = fs.openSync(path.join(this.dir, 'dovecot.stderr'), 'a');
    let child: ChildProcess;
    try {
      child = spawn(this.binary, ['-F', '-c', path.join(this.dir, 'dovecot.conf')], {
        detached: this.detached,
        stdio: ['ignore', stderrFd, stderrFd],
      });
    } finally {
      fs.closeSync(stderrFd);
    }
    this.child = child;
    running.add(child);
    let exitInfo: string | undefined;
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        exitInfo = `exit code ${code}, signal ${signal}`;
        running.delete(child);
        if (this.child === child) this.child = undefined;
        resolve();
      });
      child.once('error', (err) => {
        exitInfo = `spawn failed: ${err.message}`;
        running.delete(child);
        if (this.child === child) this.child = undefined;
        resolve();
      });
    });
    const deadline = Date.now() + this.startTimeoutMs;
    while (Date.now() < deadline) {
      if (exitInfo !== undefined) {
        throw new DovecotStartError(`Dovecot exited during start-up (${exitInfo}):\n${this.logTail(20)}`, this.logTail(20));
      }
      // A fatal config or permission error leaves the master running and retrying with back-off: fail now instead.
      if (/\bFatal: /.test(this.logSince(logStart))) break;
      // Our unique greeting proves this is our Dovecot and not whoever else grabbed the port.
      if ((await greets(this.port, this.greeting)) && (this.tlsPort === undefined || (await accepts(this.tlsPort)))) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    const log = this.logTail(20);
    await this.stopServer();
    throw new DovecotStartError(`Dovecot did not start on ${HOST}:${this.port} (fatal error or no greeting within ${this.startTimeoutMs} ms):\n${log}`, log);
  }

  async stopServer(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGTERM');
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), STOP_GRACE_MS).unref());
    if ((await Promise.race([this.exited.then(() => 'exited' as const), timer])) === 'timeout') {
      child.kill('SIGKILL');
      await this.exited;
    }
  }

  async restart(): Promise<void> {
    await this.stopServer();
    await this.startServer();
  }

  async stop(): Promise<void> {
    await this.stopServer();
    if (this.removed) return;
    this.removed = true;
    await fsp.rm(this.dir, { recursive: true, force: true });
    tempDirs.delete(this.dir);
  }

  private logSizes(): [number, number] {
    const size = (name: string): number => {
      try {
        return fs.statSync(path.join(this.dir, name)).size;
      } catch {
        return 0;
      }
    };
    return [size('dovecot.stderr'), size('dovecot.log')];
  }

  /** What Dovecot logged since `start` (from logSizes()). */
  private logSince(start: [number, number]): string {
    const read = (name: string, from: number): string => {
      try {
        return fs.readFileSync(path.join(this.dir, name)).subarray(from).toString('utf8');
      } catch {
        return '';
      }
    };
    return read('dovecot.stderr', start[0]) + read('dovecot.log', start[1]);
  }

  logTail(lines = 40): string {
    const read = (name: string): string => {
      try {
        return fs.readFileSync(path.join(this.dir, name), 'utf8');
      } catch {
        return '';
      }
    };
    const all = (read('dovecot.stderr') + read('dovecot.log')).split('\n').filter((l) => l.length > 0);
    return all.slice(-lines).join('\n');
  }

  private password(user: string): string {
    const found = this.users.find((u) => u.user.toLowerCase() === user.toLowerCase());
    if (!found) throw new Error(`dovecot harness: unknown user ${user} (known: ${this.users.map((u) => u.user).join(', ')})`);
    return found.password;
  }

  clientOptions(user: string, overrides: Partial<ImapFlowOptions> = {}): ImapFlowOptions {
    return {
      host: this.host,
      port: this.port,
      secure: false,
      // Plain on purpose: with `tls` the port offers STARTTLS, which imapflow would otherwise take opportunistically
      // and then fail to verify (the test CA is not in the system store). Tests ask for TLS explicitly.
      doSTARTTLS: false,
      auth: { user, pass: this.password(user) },
      logger: false,
      disableAutoIdle: true,
      connectionTimeout: 5_000,
      greetingTimeout: 5_000,
      ...overrides,
    };
  }

  async connect(user: string, overrides: Partial<ImapFlowOptions> = {}): Promise<ImapFlow> {
    const client = new ImapFlow(this.clientOptions(user, overrides));
    // imapflow emits 'error' on socket trouble; without a listener it would crash the test process.
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (err) {
      client.close();
      throw err;
    }
    return client;
  }

  private async withClient<T>(user: string, fn: (client: ImapFlow) => Promise<T>): Promise<T> {
    const client = await this.connect(user);
    try {
      const result = await fn(client);
      await client.logout();
      return result;
    } finally {
      client.close();
    }
  }

  append(user: string, rawMessage: string | Buffer, flags: string[] = []): Promise<{ uid: number | undefined }> {
    return this.withClient(user, async (client) => {
      const res = await client.append('INBOX', rawMessage, flags);
      if (res === false) throw new Error(`dovecot harness: APPEND to ${user}'s INBOX failed:\n${this.logTail(10)}`);
      return { uid: res.uid };
    });
  }

  listInbox(user: string): Promise<InboxMessage[]> {
    return this.withClient(user, async (client) => {
      // EXAMINE, not SELECT: looking must not change what the daemon sees (\Recent, \Seen).
      const lock = await client.getMailboxLock('INBOX', { readOnly: true });
      try {
        if (client.mailbox === false || client.mailbox.exists === 0) return [];
        const messages = await client.fetchAll('1:*', { uid: true, flags: true, envelope: true });
        return messages.map((m) => ({
          uid: m.uid,
          // \Recent belongs to whichever session saw the mail first; tests care about the stored flags.
          flags: [...(m.flags ?? [])].filter((f) => f !== '\\Recent').sort(),
          messageId: m.envelope?.messageId,
          subject: m.envelope?.subject,
        }));
      } finally {
        lock.release();
      }
    });
  }

  countInbox(user: string): Promise<number> {
    return this.withClient(user, async (client) => {
      const status = await client.status('INBOX', { messages: true });
      if (status === false || status.messages === undefined) throw new Error(`dovecot harness: STATUS INBOX failed for ${user}`);
      return status.messages;
    });
  }
}

export class DovecotStartError extends Error {
  readonly code = 'DOVECOT_START_FAILED';
  constructor(
    message: string,
    readonly log: string,
  ) {
    super(message);
    this.name = 'DovecotStartError';
  }
}

/** Whether something accepts a TCP connection on the port right now. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: HOST });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Connects, reads the first lines, and says whether the greeting carries `token`. */
function greets(port: number, token: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: HOST });
    let buffer = '';
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    // Right after start-up Dovecot may first send "* OK Waiting for authentication process to respond..".
    const timer = setTimeout(() => done(false), 2_000);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.includes(token)) done(true);
      else if (buffer.length > 4096) done(false);
    });
    socket.once('error', () => done(false));
    socket.once('close', () => done(buffer.includes(token)));
  });
}

export async function startDovecot(opts: DovecotOptions): Promise<DovecotServer> {
  if (opts.users.length === 0) throw new Error('dovecot harness: at least one user is needed');
  opts.users.forEach(checkUser);
  const binary = opts.binary ?? process.env['DOVECOT_BIN'] ?? '/usr/sbin/dovecot';
  const attempts = opts.port === undefined ? 5 : 1;
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'airut-dovecot-'));
    tempDirs.add(dir);
    const extras = { tls: opts.tls, oauth2: opts.oauth2 };
    const server = new DovecotInstance(dir, opts.users, binary, opts.startTimeoutMs ?? 10_000, opts.detached ?? false, extras);
    server.port = opts.port ?? (await freePort());
    if (opts.tls !== undefined) server.tlsPort = await freePort();
    try {
      await server.writeFiles(identity());
      await server.startServer();
      return server;
    } catch (err) {
      lastError = err;
      await server.stop();
      // Another process may have taken the free port between freePort() and Dovecot's bind: try another port.
      if (!(err instanceof DovecotStartError && /Address already in use/i.test(err.log))) break;
    }
  }
  throw lastError;
}
