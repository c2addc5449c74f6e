/**
 * A repository's outgoing mail: connect to its SMTP server with the daemon's own transport
 * options (same security, same certificate rules), log in, and quit. Nothing is sent.
 */
import type { RepoServerConfig } from '../config/types.ts';
import { createSmtpTransport } from '../reply/smtp-transport.ts';
import { describeMailFailure } from './mail-errors.ts';
import { connectionRow, loginKey, obtainLoginOrRow, tlsSummary } from './mail-login.ts';
import { fail, type CheckContext, type CheckResult, type DoctorCheck } from './types.ts';

export async function checkSmtp(repo: RepoServerConfig, ctx: CheckContext): Promise<CheckResult> {
  const name = `${repo.repoId}: smtp`;
  const e = repo.email;
  const login = await obtainLoginOrRow(repo, name);
  if ('status' in login) return login;
  const timeouts = { connectionTimeoutMs: ctx.timeoutMs, greetingTimeoutMs: ctx.timeoutMs, socketTimeoutMs: ctx.timeoutMs };
  const transport = createSmtpTransport(repo, timeouts, login.credentials);
  const onAbort = () => transport.close();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    // verify(): connect, EHLO, STARTTLS when configured, AUTH, QUIT.
    await transport.verify();
    const detail = `${e.username}@${e.smtpServer}:${e.smtpPort}/${e.smtpSecurity}: logged in with ${login.summary}, over ${tlsSummary(e.smtpSecurity, e.tls)}; replies go out from ${e.fromAddress}`;
    return connectionRow(repo, name, e.smtpSecurity, detail);
  } catch (err) {
    const f = describeMailFailure(
      err,
      { protocol: 'SMTP', configPath: `repos.${repo.repoId}.email`, host: e.smtpServer, port: e.smtpPort, security: e.smtpSecurity, login: loginKey(repo) },
      ctx.timeoutMs,
    );
    return fail(name, f.detail, f.fix);
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    transport.close();
  }
}

export function smtpCheck(repo: RepoServerConfig): DoctorCheck {
  return {
    name: `${repo.repoId}: smtp`,
    timeoutFix: `check repos.${repo.repoId}.email.smtp_server and smtp_port, and that no firewall drops the connection`,
    run: (ctx) => checkSmtp(repo, ctx),
  };
}
