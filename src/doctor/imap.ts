/**
 * A repository's inbox, checked the way the listener will use it: log in with the configured
 * security, open INBOX read-only (EXAMINE: nothing is flagged, moved or deleted), and read the
 * Authentication-Results headers of the newest mails. Those headers are the reliable way to learn
 * the `trusted_authserv_id` a mail server writes, so the doctor compares them with the setting.
 */
import { ImapFlow } from 'imapflow';
import type { TLSSocket } from 'node:tls';
import type { RepoServerConfig } from '../config/types.ts';
import { verifyDmarc } from '../email/authenticate.ts';
import { parseHeaderSection } from '../email/headers.ts';
import { printable } from '../email/text.ts';
import { imapSecurityOptions } from '../listener/imap-security.ts';
import { describeMailFailure, type DoctorMailEndpoint } from './mail-errors.ts';
import { connectionRow, loginKey, obtainLoginOrRow, tlsSummary } from './mail-login.ts';
import { fail, ok, warn, type CheckContext, type CheckResult, type DoctorCheck } from './types.ts';

/** What the listener's verdict reads: the verdict header, and Exchange's mark for internal mail (microsoft_internal_fallback). */
const SAMPLED_HEADERS = ['authentication-results', 'x-ms-exchange-organization-authas'];

/** How many of the newest mails are compared with trusted_authserv_id. */
const HEADER_SAMPLE = 5;

interface SampledMail {
  readonly from: string;
  readonly subject: string;
  readonly verdict: ReturnType<typeof verifyDmarc>;
}

function endpoint(repo: RepoServerConfig): DoctorMailEndpoint {
  const e = repo.email;
  return { protocol: 'IMAP', configPath: `repos.${repo.repoId}.email`, host: e.imapServer, port: e.imapPort, security: e.imapSecurity, login: loginKey(repo) };
}

/** Whom the server's certificate names and who vouched for it, e.g. `certificate for imap.example.com from R11, valid until …`. */
function certificateSummary(client: ImapFlow): string {
  const socket = (client as unknown as { socket?: Partial<TLSSocket> | false }).socket;
  if (!socket || typeof socket.getPeerCertificate !== 'function') return '';
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return '';
  const issuer = printable(String(cert.issuer?.CN ?? cert.issuer?.O ?? 'an unnamed issuer'), 80);
  const subject = printable(String(cert.subject?.CN ?? cert.subjectaltname ?? '?'), 80);
  return `; certificate for ${subject} from ${issuer}, valid until ${new Date(cert.valid_to).toISOString().slice(0, 10)}`;
}

/** The verdicts the listener would reach on the newest mails, judged on their headers alone. */
export function dmarcHeaderRow(repo: RepoServerConfig, sample: readonly SampledMail[]): CheckResult {
  const name = `${repo.repoId}: dmarc headers`;
  const trusted = repo.trustedAuthservId;
  // "" is the Exchange Online mode: no id is compared, so none can be named.
  const setting = trusted === '' ? 'trusted_authserv_id "" (any topmost header, the Exchange Online mode)' : `trusted_authserv_id ${trusted}`;
  if (sample.length === 0) {
    return ok(name, `INBOX is empty; send a test mail before starting the daemon to compare its header with ${setting}`);
  }
  const rejected = sample.filter((m) => !m.verdict.ok);
  if (rejected.length === 0) {
    const by = trusted === '' ? 'their topmost Authentication-Results header' : trusted;
    const internal = repo.microsoftInternalFallback ? ' (or are internal mail Exchange marked AuthAs: Internal)' : '';
    return ok(name, `the newest ${sample.length} mail(s) in INBOX pass DMARC as reported by ${by}${internal}`);
  }
  const first = rejected[0] as SampledMail;
  const reason = first.verdict.ok ? '' : first.verdict.reason;
  return warn(
    name,
    `${rejected.length} of the newest ${sample.length} mail(s) would be rejected, e.g. from ${first.from} ("${first.subject}"): ${reason}`,
    `if such mail comes from a sender you trust, set repos.${repo.repoId}.trusted_authserv_id to the id at the start of its topmost ` +
      'Authentication-Results header (docs/email-setup.md, "Finding the authserv-id"); mail that fails DMARC is rightly rejected',
  );
}

async function sampleNewest(client: ImapFlow, repo: RepoServerConfig, exists: number): Promise<SampledMail[]> {
  if (exists === 0) return [];
  const first = Math.max(1, exists - HEADER_SAMPLE + 1);
  const sample: SampledMail[] = [];
  for await (const msg of client.fetch(`${first}:*`, { flags: true, envelope: true, headers: SAMPLED_HEADERS })) {
    // The listener skips mail flagged \Deleted, so the doctor does too.
    if (msg.flags?.has('\\Deleted')) continue;
    const lines = parseHeaderSection(msg.headers?.toString('utf8') ?? '');
    sample.push({
      from: printable(msg.envelope?.from?.[0]?.address ?? '(no From)', 80),
      subject: printable(msg.envelope?.subject ?? '', 60),
      verdict: verifyDmarc(lines, repo.trustedAuthservId, { microsoftInternalFallback: repo.microsoftInternalFallback }),
    });
  }
  return sample.reverse(); // newest first
}

export async function checkImap(repo: RepoServerConfig, ctx: CheckContext): Promise<CheckResult[]> {
  const name = `${repo.repoId}: imap`;
  const e = repo.email;
  const where = `${e.username}@${e.imapServer}:${e.imapPort}/${e.imapSecurity}`;
  const login = await obtainLoginOrRow(repo, name);
  if ('status' in login) return [login];
  let client: ImapFlow | null = null;
  const onAbort = () => client?.close();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    client = new ImapFlow({
      host: e.imapServer,
      port: e.imapPort,
      ...imapSecurityOptions(e.imapSecurity, e.tls),
      auth: login.auth,
      logger: false,
      disableAutoIdle: true,
      connectionTimeout: ctx.timeoutMs,
      greetingTimeout: ctx.timeoutMs,
      socketTimeout: ctx.timeoutMs,
    });
    // imapflow reports socket trouble as an 'error' event too; without a listener it would crash the process.
    client.on('error', () => undefined);
    await client.connect();
    const secured = certificateSummary(client);
    const mailbox = await client.mailboxOpen('INBOX', { readOnly: true });
    const idle = client.capabilities.has('IDLE') ? '' : '; the server has no IDLE, so the listener will poll';
    const sample = await sampleNewest(client, repo, mailbox.exists);
    await client.logout().catch(() => undefined);
    const detail = `${where}: logged in with ${login.summary}, over ${tlsSummary(e.imapSecurity, e.tls)}${secured}; INBOX holds ${mailbox.exists} message(s)${idle}`;
    return [connectionRow(repo, name, e.imapSecurity, detail), dmarcHeaderRow(repo, sample)];
  } catch (err) {
    const f = describeMailFailure(err, endpoint(repo), ctx.timeoutMs);
    return [fail(name, f.detail, f.fix)];
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    client?.close();
  }
}

export function imapCheck(repo: RepoServerConfig): DoctorCheck {
  return {
    name: `${repo.repoId}: imap`,
    timeoutFix: `check repos.${repo.repoId}.email.imap_server and imap_port, and that no firewall drops the connection`,
    run: (ctx) => checkImap(repo, ctx),
  };
}
