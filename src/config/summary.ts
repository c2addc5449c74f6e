/**
 * A short, human summary of a loaded configuration, printed by `--check`. It shows what the
 * daemon will do (which inboxes, which storage, which secret NAMES), and never a secret value:
 * the output may well be pasted into a bug report.
 */
import { formatBytes } from '../limits/bytes.ts';
import { poolShadowWarnings } from './credential-pools.ts';
import { webhookOrigin } from './webhook-url.ts';
import type { GlobalConfig, MailLimits, MailLogin, MailTlsConfig, RepoServerConfig, ServerConfig } from './types.ts';

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

/** The login method, with its secrets shown as *** (the output may be pasted into a bug report). */
function loginLine(login: MailLogin): string {
  if (login.kind === 'password') return 'password ***';
  if (login.provider === 'microsoft') {
    return `Microsoft 365 OAuth2 (client credentials): tenant ${login.tenantId ?? '?'}, client ${login.clientId}, secret ***, token from ${login.tokenUrl}`;
  }
  return `OAuth2 (refresh token): client ${login.clientId}, secret ***, refresh token ***, token from ${login.tokenUrl}`;
}

function tlsLine(tls: MailTlsConfig): string {
  if (tls.insecureSkipVerify) return 'certificates NOT checked (insecure_skip_verify)';
  return tls.caFile === null ? "certificates checked against the system's CAs" : `certificates checked against the system's CAs and ${tls.caFile}`;
}

/** What an operator should know they have turned on: each of these trusts something less checked. */
export function configWarnings(cfg: ServerConfig): string[] {
  const out: string[] = [...kubernetesWarnings(cfg.global)];
  for (const repo of Object.values(cfg.repos)) {
    const at = `repos.${repo.repoId}`;
    out.push(...poolShadowWarnings(repo));
    if (repo.email.tls.insecureSkipVerify) {
      out.push(`${at}.email.tls.insecure_skip_verify: any certificate is accepted, so anyone on the network path can read the mailbox's password and mail; use ca_file for a private CA`);
    }
    if (repo.trustedAuthservId === '') {
      out.push(`${at}.trusted_authserv_id is empty: the topmost Authentication-Results header is trusted whoever wrote it (right for Exchange Online, which writes no authserv-id; elsewhere set your server's authserv-id)`);
    }
    if (repo.microsoftInternalFallback) {
      out.push(`${at}.microsoft_internal_fallback: mail with no Authentication-Results header is accepted when X-MS-Exchange-Organization-AuthAs says Internal; safe only for a mailbox on Exchange Online, which strips that header from outside mail`);
    }
  }
  return out;
}

/** The kubernetes section where it does nothing, or pushes that trust less. */
function kubernetesWarnings(g: GlobalConfig): string[] {
  if (g.kubernetes === null) return [];
  if (g.backend !== 'kubernetes') return ['kubernetes: is set but unused, as execution.backend is container; set execution.backend: kubernetes to run tasks as pods'];
  if (!g.kubernetes.registryTlsVerify) {
    return [`kubernetes.registry_tls_verify: false: images are pushed to ${g.kubernetes.registry} without checking its certificate, so anyone on the network path can replace what the pods run`];
  }
  return [];
}

/** Where tasks run: the runtime on this host, or the cluster. */
function backendLine(g: GlobalConfig): string {
  const k = g.kubernetes;
  if (g.backend !== 'kubernetes' || k === null) return `containers: ${g.containerCommand}`;
  const from = k.kubeconfigPath === null ? 'in-cluster service account' : `${k.kubeconfigPath}${k.context ? ` (context ${k.context})` : ''}`;
  return `kubernetes: namespace ${k.namespace} via ${from}; images ${k.registry}; gateway ${k.gateway.listenHost}:${k.gateway.listenPort}, pods reach ${k.gateway.advertiseAddress}; builds with ${g.containerCommand}`;
}

function repoLines(repo: RepoServerConfig): string[] {
  const { email, imap } = repo;
  const mode = imap.useIdle
    ? `IDLE, re-issued every ${imap.idleRefreshIntervalSeconds} s, checked every ${imap.pollIntervalSeconds} s, fresh login every ${imap.idleReconnectIntervalSeconds} s`
    : `polled every ${imap.pollIntervalSeconds} s`;
  const names = (record: Readonly<Record<string, unknown>>): string => Object.keys(record).sort().join(', ') || 'none';
  return [
    `  ${repo.repoId}`,
    `    git:      ${withoutUserInfo(repo.gitRepoUrl)}`,
    `    inbox:    ${email.username}@${email.imapServer}:${email.imapPort}/${email.imapSecurity} (${mode})`,
    `    smtp:     ${email.smtpServer}:${email.smtpPort}/${email.smtpSecurity}, from ${email.fromAddress}`,
    `    login:    ${loginLine(email.login)}`,
    `    tls:      ${tlsLine(email.tls)}`,
    `    senders:  ${plural(repo.authorizedSenders.length, 'authorized sender')}, trusted authserv-id ${repo.trustedAuthservId === '' ? '"" (not compared)' : repo.trustedAuthservId}${repo.microsoftInternalFallback ? ', Microsoft internal fallback on' : ''}`,
    `    storage:  ${repo.storageDir}`,
    `    limits:   ${limitsLine(repo.limits)}`,
    `    secrets:  ${names(repo.secrets)}`,
    `    masked:   ${names(repo.maskedSecrets)}`,
    `    signing:  ${names(repo.signingCredentials)}`,
    `    github app: ${names(repo.githubAppCredentials)}`,
    `    webhook:  ${repo.webhook ? `${webhookOrigin(repo.webhook.url)} (${repo.webhook.events.join(', ')}), secret ***` : 'none'}`,
    ...(Object.keys(repo.companions).length ? [`    companions: ${Object.entries(repo.companions).map(([id, access]) => `${id} (${access})`).join(', ')}`] : []),
  ];
}

export function formatConfigSummary(cfg: ServerConfig): string {
  const g = cfg.global;
  const d = g.dashboard;
  const dashboard = d.enabled
    ? `http://${d.host.includes(':') ? `[${d.host}]` : d.host}:${d.port}${d.baseUrl ? ` (public ${d.baseUrl})` : ''}, ${d.authToken ? 'auth token required' : 'no auth token'}`
    : 'disabled';
  const repos = Object.values(cfg.repos);
  const warnings = configWarnings(cfg);
  return [
    `config:     ${cfg.sourcePath}`,
    `execution:  ${g.maxConcurrent} concurrent tasks, shutdown timeout ${g.shutdownTimeoutSeconds} s, conversations kept ${g.conversationMaxAgeDays} days`,
    `dashboard:  ${dashboard}`,
    backendLine(g),
    `database:   ${g.databasePath}`,
    `claude:     ${g.claude.binaryPath}${g.claude.allowedModels.length ? `; extra models: ${g.claude.allowedModels.join(', ')}` : ''}`,
    `repos (${repos.length}):`,
    ...repos.flatMap(repoLines),
    ...(warnings.length ? [`warnings (${warnings.length}):`, ...warnings.map((w) => `  - ${w}`)] : []),
    '',
  ].join('\n');
}
