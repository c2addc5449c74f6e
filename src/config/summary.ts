/**
 * A short, human summary of a loaded configuration, printed by `--check`. It shows what the
 * daemon will do (which inboxes, which storage, which secret NAMES), and never a secret value:
 * the output may well be pasted into a bug report.
 */
import { formatBytes } from '../limits/bytes.ts';
import type { MailLimits, RepoServerConfig, ServerConfig } from './types.ts';

/** Hides credentials written into a clone URL (`https://user:token@host/…`). */
function withoutUserInfo(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1***@');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function limitsLine(l: MailLimits): string {
  const bytes = (n: number | null): string => (n === null ? 'no limit' : formatBytes(n));
  const count = (n: number | null): string => (n === null ? 'no limit' : String(n));
  return (
    `mail ${bytes(l.maxMessageBytes)}, attachment ${bytes(l.maxAttachmentBytes)}, ${count(l.maxAttachments)} attachments; ` +
    `tasks per hour ${count(l.tasksPerHour)}, per sender ${count(l.tasksPerSenderPerHour)}`
  );
}

function repoLines(repo: RepoServerConfig): string[] {
  const { email, imap } = repo;
  const mode = imap.useIdle ? `IDLE, re-issued every ${imap.idleReconnectIntervalSeconds} s` : `polled every ${imap.pollIntervalSeconds} s`;
  const names = (record: Readonly<Record<string, unknown>>): string => Object.keys(record).sort().join(', ') || 'none';
  return [
    `  ${repo.repoId}`,
    `    git:      ${withoutUserInfo(repo.gitRepoUrl)}`,
    `    inbox:    ${email.username}@${email.imapServer}:${email.imapPort}/${email.imapSecurity} (${mode})`,
    `    smtp:     ${email.smtpServer}:${email.smtpPort}/${email.smtpSecurity}, from ${email.fromAddress}`,
    `    senders:  ${plural(repo.authorizedSenders.length, 'authorized sender')}, trusted authserv-id ${repo.trustedAuthservId}`,
    `    storage:  ${repo.storageDir}`,
    `    limits:   ${limitsLine(repo.limits)}`,
    `    secrets:  ${names(repo.secrets)}`,
    `    masked:   ${names(repo.maskedSecrets)}`,
    `    signing:  ${names(repo.signingCredentials)}`,
  ];
}

export function formatConfigSummary(cfg: ServerConfig): string {
  const g = cfg.global;
  const d = g.dashboard;
  const dashboard = d.enabled
    ? `http://${d.host.includes(':') ? `[${d.host}]` : d.host}:${d.port}${d.baseUrl ? ` (public ${d.baseUrl})` : ''}, ${d.authToken ? 'auth token required' : 'no auth token'}`
    : 'disabled';
  const repos = Object.values(cfg.repos);
  return [
    `config:     ${cfg.sourcePath}`,
    `execution:  ${g.maxConcurrent} concurrent tasks, shutdown timeout ${g.shutdownTimeoutSeconds} s, conversations kept ${g.conversationMaxAgeDays} days`,
    `dashboard:  ${dashboard}`,
    `containers: ${g.containerCommand}`,
    `database:   ${g.databasePath}`,
    `claude:     ${g.claude.binaryPath}${g.claude.allowedModels.length ? `; extra models: ${g.claude.allowedModels.join(', ')}` : ''}`,
    `repos (${repos.length}):`,
    ...repos.flatMap(repoLines),
    '',
  ].join('\n');
}
