/**
 * Turns a configuration that passed the schema and the rules into the `ServerConfig` the daemon
 * uses: defaults filled in, camelCase names, absolute paths, lowercased addresses, deeply frozen.
 * The only problem that can still arise here is a default that cannot be worked out (the
 * Claude binary), which is reported like any other configuration problem.
 */
import path from 'node:path';
import { ConfigError } from '../errors.ts';
import { normalizeSender, parseFromHeader } from './address.ts';
import { bundledClaudeBinary } from './claude-binary.ts';
import { buildDashboardHosts } from './rules-dashboard-hosts.ts';
import { normalizeBaseUrl } from './dashboard-url.ts';
import { CLAUDE_BINARY_PACKAGE, DEFAULT_BUDGET, DEFAULT_RETRIES, DEFAULTS } from './defaults.ts';
import { deepFreeze } from './freeze.ts';
import { expandPath } from './fs-path.ts';
import { buildCapabilities, buildContainerLimits, buildGithubAppCredentials, buildMaskedSecrets, buildSigningCredentials } from './build-repo-sandbox.ts';
import { buildKubernetes, buildRepoKubernetes } from './build-kubernetes.ts';
import { buildMailLogin, buildMailTls } from './mail-login.ts';
import { defaultSecurityForPort } from './network.ts';
import type { RawBudget, RawLimits, RawRepo, RawRetries, RawSchedule, RawServerConfig } from './raw.ts';
import type {
  GlobalConfig,
  MailLimits,
  UpstreamOverride,
  RepoEmailConfig,
  RepoServerConfig,
  RetryPolicy,
  ScheduleConfig,
  ServerConfig,
  SpendingLimits,
  TaskOutputLimits,
  WebhookConfig,
} from './types.ts';
import { WEBHOOK_EVENTS } from './types.ts';

function buildGlobal(raw: RawServerConfig, configDir: string, sourcePath: string): GlobalConfig {
  const execution = raw.execution ?? {};
  const dashboard = raw.dashboard ?? {};
  const claude = raw.claude ?? {};
  let binaryPath: string;
  if (claude.binary) binaryPath = expandPath(claude.binary, configDir);
  else {
    const bundled = bundledClaudeBinary();
    if (bundled === null) {
      throw new ConfigError(
        [
          {
            path: 'claude.binary',
            message: `is not set, and the npm package ${CLAUDE_BINARY_PACKAGE} that provides the default is not installed; install it (npm install) or set claude.binary to the path of a Claude Code binary`,
          },
        ],
        sourcePath,
      );
    }
    binaryPath = bundled;
  }
  return {
    backend: execution.backend ?? DEFAULTS.executionBackend,
    kubernetes: buildKubernetes(raw.kubernetes, configDir),
    maxConcurrent: execution.max_concurrent ?? DEFAULTS.maxConcurrent,
    shutdownTimeoutSeconds: execution.shutdown_timeout ?? DEFAULTS.shutdownTimeoutSeconds,
    conversationMaxAgeDays: execution.conversation_max_age_days ?? DEFAULTS.conversationMaxAgeDays,
    imageBuildTimeoutSeconds: execution.image_build_timeout ?? DEFAULTS.imageBuildTimeoutSeconds,
    resilientStart: execution.resilient_start ?? DEFAULTS.resilientStart,
    imageMaxAgeHours: execution.image_max_age_hours ?? DEFAULTS.imageMaxAgeHours,
    dashboard: {
      enabled: dashboard.enabled ?? DEFAULTS.dashboardEnabled,
      host: dashboard.host ?? DEFAULTS.dashboardHost,
      port: dashboard.port ?? DEFAULTS.dashboardPort,
      baseUrl: dashboard.base_url ? normalizeBaseUrl(dashboard.base_url) : null,
      authToken: dashboard.auth_token ?? null,
      sessionIdleSeconds: dashboard.session_idle_timeout ?? DEFAULTS.dashboardSessionIdleSeconds,
      sessionLifetimeSeconds: dashboard.session_lifetime ?? DEFAULTS.dashboardSessionLifetimeSeconds,
      hosts: buildDashboardHosts(dashboard.hosts),
    },
    containerCommand: raw.container_command ?? DEFAULTS.containerCommand,
    containerNetwork: raw.container_network ?? DEFAULTS.containerNetwork,
    network: { upstreamOverrides: buildUpstreamOverrides(raw.network?.upstream_overrides ?? {}) },
    databasePath: expandPath(raw.database ?? DEFAULTS.databasePath, configDir),
    claude: { binaryPath, allowedModels: [...(claude.allowed_models ?? [])] },
    rejectedMail: {
      maxStoredBytesPerDay: raw.rejected_mail?.max_stored_bytes_per_day ?? DEFAULTS.rejectedMaxStoredBytesPerDay,
      // null is a value ("no limit"); only an absent key takes the default.
      perSourcePerHour:
        raw.rejected_mail?.per_source_per_hour === undefined ? DEFAULTS.rejectedPerSourcePerHour : raw.rejected_mail.per_source_per_hour,
    },
    taskOutput: buildTaskOutput(raw.task_output ?? {}),
  };
}

function buildTaskOutput(raw: NonNullable<RawServerConfig['task_output']>): TaskOutputLimits {
  return {
    maxOutboxFileBytes: raw.max_outbox_file_bytes ?? DEFAULTS.maxOutboxFileBytes,
    maxOutboxTotalBytes: raw.max_outbox_total_bytes ?? DEFAULTS.maxOutboxTotalBytes,
    maxOutboxFiles: raw.max_outbox_files ?? DEFAULTS.maxOutboxFiles,
    maxLineBytes: raw.max_line_bytes ?? DEFAULTS.maxLineBytes,
    maxEvents: raw.max_events ?? DEFAULTS.maxEvents,
    maxNetworkRows: raw.max_network_rows ?? DEFAULTS.maxNetworkRows,
    maxKeptFileBytesPerTask: raw.max_kept_file_bytes_per_task ?? DEFAULTS.maxKeptFileBytesPerTask,
  };
}

/** `name: address[:port]` entries; the schema has checked the shape. */
function buildUpstreamOverrides(raw: Record<string, string>): Record<string, UpstreamOverride> {
  const out: Record<string, UpstreamOverride> = {};
  for (const [name, target] of Object.entries(raw)) {
    const m = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(target.trim())!;
    out[name.toLowerCase()] = { host: m[1] ?? m[2]!, port: m[3] === undefined ? null : Number(m[3]) };
  }
  return out;
}

function buildEmail(email: RawRepo['email'], emailPath: string, configDir: string, sourcePath: string): RepoEmailConfig {
  const imapPort = email.imap_port ?? DEFAULTS.imapPort;
  const smtpPort = email.smtp_port ?? DEFAULTS.smtpPort;
  const from = parseFromHeader(email.from);
  // The rules have already refused a `from` without exactly one address.
  if (!('address' in from)) throw new Error('internal: from header was not validated');
  return {
    imapServer: email.imap_server.trim(),
    imapPort,
    imapSecurity: email.imap_security ?? defaultSecurityForPort(imapPort),
    smtpServer: email.smtp_server.trim(),
    smtpPort,
    smtpSecurity: email.smtp_security ?? defaultSecurityForPort(smtpPort),
    username: email.username,
    login: buildMailLogin(email),
    tls: buildMailTls(email, emailPath, configDir, sourcePath),
    from: email.from.trim(),
    fromAddress: from.address,
  };
}

/**
 * A repo's limits: each key from the repo's `limits`, else the top-level `limits`, else the default.
 * `null` is a value here ("no limit"), so only an absent key inherits.
 */
function buildLimits(repo: RawLimits | null | undefined, top: RawLimits | null | undefined): MailLimits {
  const pick = <K extends keyof RawLimits>(key: K, fallback: number): number | null => {
    if (repo && repo[key] !== undefined) return repo[key] ?? null;
    if (top && top[key] !== undefined) return top[key] ?? null;
    return fallback;
  };
  return {
    maxMessageBytes: pick('max_message_bytes', DEFAULTS.maxMessageBytes),
    maxAttachmentBytes: pick('max_attachment_bytes', DEFAULTS.maxAttachmentBytes),
    maxAttachments: pick('max_attachments', DEFAULTS.maxAttachments),
    tasksPerHour: pick('tasks_per_hour', DEFAULTS.tasksPerHour),
    tasksPerSenderPerHour: pick('tasks_per_sender_per_hour', DEFAULTS.tasksPerSenderPerHour),
  };
}

/** Like buildLimits: each key from the repository, else the top level, else the default. */
function inherit<T extends object, K extends keyof T>(repo: T | null | undefined, top: T | null | undefined, key: K): T[K] | undefined {
  if (repo && repo[key] !== undefined) return repo[key];
  if (top && top[key] !== undefined) return top[key];
  return undefined;
}

function buildBudget(repo: RawBudget | null | undefined, top: RawBudget | null | undefined): SpendingLimits {
  const pick = (key: keyof RawBudget, fallback: number | null): number | null => {
    const v = inherit(repo, top, key);
    return v === undefined ? fallback : v;
  };
  return {
    taskUsd: pick('task_usd', DEFAULT_BUDGET.taskUsd),
    senderPerDayUsd: pick('sender_per_day_usd', DEFAULT_BUDGET.senderPerDayUsd),
    senderPerMonthUsd: pick('sender_per_month_usd', DEFAULT_BUDGET.senderPerMonthUsd),
    repoPerDayUsd: pick('repo_per_day_usd', DEFAULT_BUDGET.repoPerDayUsd),
    repoPerMonthUsd: pick('repo_per_month_usd', DEFAULT_BUDGET.repoPerMonthUsd),
  };
}

function buildRetries(repo: RawRetries | null | undefined, top: RawRetries | null | undefined): RetryPolicy {
  const pick = (key: keyof RawRetries, fallback: number): number => inherit(repo, top, key) ?? fallback;
  return {
    maxRetries: pick('max_retries', DEFAULT_RETRIES.maxRetries),
    initialDelaySeconds: pick('initial_delay_seconds', DEFAULT_RETRIES.initialDelaySeconds),
    maxDelaySeconds: pick('max_delay_seconds', DEFAULT_RETRIES.maxDelaySeconds),
    maxTotalWaitSeconds: pick('max_total_wait_seconds', DEFAULT_RETRIES.maxTotalWaitSeconds),
  };
}

function buildSchedules(raw: Record<string, RawSchedule> | null | undefined): Record<string, ScheduleConfig> {
  const out: Record<string, ScheduleConfig> = {};
  for (const [name, s] of Object.entries(raw ?? {})) {
    out[name] = {
      name,
      cron: s.cron.trim(),
      timezone: s.timezone ?? DEFAULTS.scheduleTimezone,
      prompt: s.prompt ?? null,
      triggerCommand: s.trigger_command ?? null,
      triggerTimeoutSeconds: s.trigger_timeout ?? DEFAULTS.scheduleTriggerTimeoutSeconds,
      outputLimitBytes: s.output_limit ?? DEFAULTS.scheduleOutputLimitBytes,
      subject: s.subject ?? name,
      model: s.model ?? null,
      effort: s.effort ?? null,
      enabled: s.enable ?? true,
      deliverTo: s.deliver.to.trim(),
    };
  }
  return out;
}

function buildRepo(repoId: string, raw: RawRepo, configDir: string, sourcePath: string, top: RawServerConfig): RepoServerConfig {
  const resourceLimits = buildContainerLimits(raw.resource_limits, top.resource_limits);
  return {
    repoId,
    gitRepoUrl: raw.git.repo_url.trim(),
    storageDir: expandPath(raw.storage_dir, configDir),
    email: buildEmail(raw.email, `repos.${repoId}.email`, configDir, sourcePath),
    authorizedSenders: [...new Set(raw.authorized_senders.map(normalizeSender))],
    trustedAuthservId: raw.trusted_authserv_id.trim(),
    microsoftInternalFallback: raw.microsoft_internal_fallback ?? DEFAULTS.microsoftInternalFallback,
    imap: {
      pollIntervalSeconds: raw.imap?.poll_interval ?? DEFAULTS.pollIntervalSeconds,
      useIdle: raw.imap?.use_idle ?? DEFAULTS.useIdle,
      idleRefreshIntervalSeconds: raw.imap?.idle_refresh_interval ?? DEFAULTS.idleRefreshIntervalSeconds,
      idleReconnectIntervalSeconds: raw.imap?.idle_reconnect_interval ?? DEFAULTS.idleReconnectIntervalSeconds,
    },
    network: { sandboxEnabled: raw.network?.sandbox_enabled ?? DEFAULTS.sandboxEnabled },
    limits: buildLimits(raw.limits, top.limits),
    model: raw.model ?? null,
    effort: raw.effort ?? null,
    budget: buildBudget(raw.budget, top.budget),
    retries: buildRetries(raw.retries, top.retries),
    schedules: buildSchedules(raw.schedules),
    secrets: { ...(raw.secrets ?? {}) },
    maskedSecrets: buildMaskedSecrets(raw),
    githubAppCredentials: buildGithubAppCredentials(raw),
    resourceLimits,
    capabilities: buildCapabilities(raw, top),
    kubernetes: buildRepoKubernetes(raw, top, resourceLimits),
    containerPath: (raw.container_path ?? DEFAULTS.containerPath).replace(/\/+$/, ''),
    signingCredentials: buildSigningCredentials(raw),
    webhook: buildWebhook(raw.webhook),
    companions: { ...(raw.companions ?? {}) },
  };
}

function buildWebhook(raw: RawRepo['webhook']): WebhookConfig | null {
  if (!raw) return null;
  const events = raw.events ?? [...WEBHOOK_EVENTS];
  return { url: raw.url.trim(), secret: raw.secret, events: WEBHOOK_EVENTS.filter((e) => events.includes(e)) };
}

/** `sourcePath` must be absolute; relative paths in the file are resolved against its directory. */
export function buildServerConfig(raw: RawServerConfig, sourcePath: string): ServerConfig {
  const configDir = path.dirname(sourcePath);
  const repos: Record<string, RepoServerConfig> = {};
  for (const [id, repo] of Object.entries(raw.repos ?? {})) repos[id] = buildRepo(id, repo, configDir, sourcePath, raw);
  return deepFreeze({ global: buildGlobal(raw, configDir, sourcePath), repos, sourcePath });
}
