import type { ContainerLimits, MailLimits, RetryPolicy, SpendingLimits, TaskOutputLimits } from './types.ts';

/**
 * Default values of optional keys. The JSON schema repeats them as `default` for documentation;
 * test/config/schema.test.ts checks that the two agree, so this file is the one to change.
 */
export const DEFAULTS = {
  maxConcurrent: 3,
  shutdownTimeoutSeconds: 60,
  conversationMaxAgeDays: 7,
  // A first build that installs toolchains can take minutes; one that takes a quarter of an hour is
  // stuck (a RUN waiting on the network, an interactive prompt) and holds a task slot.
  imageBuildTimeoutSeconds: 900,
  // Where Airut looks for the Dockerfile unless the repository's container_path says otherwise.
  containerPath: '.airut/container',
  // Airut's age: base images and packages get their updates within a day.
  imageMaxAgeHours: 24,
  // Strict by default: an operator opts in to a daemon that runs with some repositories left out.
  resilientStart: false,
  dashboardEnabled: true,
  dashboardHost: '127.0.0.1',
  dashboardPort: 5200,
  // A working day of inactivity ends a login; a week ends it whatever happens, so a cookie copied
  // off a machine is worth little for long.
  dashboardSessionIdleSeconds: 43_200,
  dashboardSessionLifetimeSeconds: 604_800,
  containerCommand: 'podman',
  executionBackend: 'container',
  // Kubernetes (`kubernetes:`): a conversation's workspace, Claude state and caches fit in 10 GiB
  // of emptyDir; a state bundle the daemon takes back is capped well below what a disk holds.
  kubeStateSizeLimit: '10Gi',
  kubeMaxStateBytes: 2_147_483_648,
  kubeRegistryTlsVerify: true,
  kubeGatewayListenHost: '0.0.0.0',
  // Next to the usual 3128 of an HTTP proxy, as the gateway is one to the pods.
  kubeGatewayListenPort: 3129,
  containerNetwork: 'default',
  sandboxEnabled: true,
  databasePath: '~/.local/share/airut/airut.db',
  imapPort: 993,
  smtpPort: 587,
  pollIntervalSeconds: 30,
  useIdle: true,
  // Gmail and Outlook drop an IDLE silently long before the 30 minutes RFC 2177 allows; re-issuing
  // it every 10 minutes keeps a session that is really listening.
  idleRefreshIntervalSeconds: 600,
  // A fresh login now and then (Airut's periodic reconnect) also proves the login still works.
  idleReconnectIntervalSeconds: 1740,
  // Microsoft 365 (`microsoft_oauth2`): the token endpoint of the tenant, and Exchange Online's scope.
  microsoftTokenUrl: 'https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token',
  microsoftScope: 'https://outlook.office365.com/.default',
  microsoftInternalFallback: false,
  insecureSkipVerify: false,
  // Limits on incoming mail (`limits:`); null means no limit. 25 MiB is what the big providers
  // accept; the rates stop a flood or an auto-reply loop long before it costs real money.
  maxMessageBytes: 26_214_400,
  maxAttachmentBytes: 20_971_520,
  maxAttachments: 50,
  tasksPerHour: 100,
  tasksPerSenderPerHour: 30,
  // Rejected mail (`rejected_mail:`): anyone can send it, so what it may store is bounded. 50 MiB a
  // day is hundreds of thousands of header sections (a flood is seen, not stored); 20 an hour from
  // one source is more than any real misdirected or looping sender produces.
  rejectedMaxStoredBytesPerDay: 52_428_800,
  rejectedPerSourcePerHour: 20,
  // What a task may hand back (`task_output:`). Replies must fit the SMTP servers they pass: most
  // providers (Gmail, Microsoft 365, Yahoo) take 25 MB per message after encoding, and base64 with
  // line breaks makes attachments ~1.37x larger, so 16 MiB of files is ~23 MB on the wire, leaving
  // room for the text. One file of 10 MiB leaves room for a second one.
  maxOutboxFileBytes: 10_485_760,
  maxOutboxTotalBytes: 16_777_216,
  maxOutboxFiles: 20,
  // The final answer arrives as one stream-json line; 4 MiB holds any answer a mail can carry.
  maxLineBytes: 4_194_304,
  // A long task makes a few thousand events and an npm install a few thousand requests; ten times
  // the events of a busy task and the requests of a large install still fit.
  maxEvents: 10_000,
  maxNetworkRows: 20_000,
  // The files of a task kept for the dashboard: a mail's attachments (20 MiB at most each) and a
  // reply's outbox files (16 MiB) fit, a few hundred tasks of them a disk of tens of GiB.
  maxKeptFileBytesPerTask: 52_428_800,
  // Retries after transient API failures (`retries:`): 10 s, 20 s, 40 s covers an overloaded
  // minute; 15 minutes of waiting in all keeps a task's slot from being held for long.
  maxRetries: 3,
  retryInitialDelaySeconds: 10,
  retryMaxDelaySeconds: 300,
  retryMaxTotalWaitSeconds: 900,
  // Schedules: a trigger command's output is bounded like Airut's (100 KB).
  scheduleTimezone: 'UTC',
  scheduleTriggerTimeoutSeconds: 300,
  scheduleOutputLimitBytes: 102_400,
} as const;

/** `budget:` when neither the repository nor the top level sets a key: no limits. */
export const DEFAULT_BUDGET: SpendingLimits = Object.freeze({
  taskUsd: null,
  senderPerDayUsd: null,
  senderPerMonthUsd: null,
  repoPerDayUsd: null,
  repoPerMonthUsd: null,
});

/** `retries:` when neither the repository nor the top level sets a key. */
export const DEFAULT_RETRIES: RetryPolicy = Object.freeze({
  maxRetries: DEFAULTS.maxRetries,
  initialDelaySeconds: DEFAULTS.retryInitialDelaySeconds,
  maxDelaySeconds: DEFAULTS.retryMaxDelaySeconds,
  maxTotalWaitSeconds: DEFAULTS.retryMaxTotalWaitSeconds,
});

/** The limits of a repository when neither it nor the top-level `limits:` sets any. */
export const DEFAULT_MAIL_LIMITS: MailLimits = Object.freeze({
  maxMessageBytes: DEFAULTS.maxMessageBytes,
  maxAttachmentBytes: DEFAULTS.maxAttachmentBytes,
  maxAttachments: DEFAULTS.maxAttachments,
  tasksPerHour: DEFAULTS.tasksPerHour,
  tasksPerSenderPerHour: DEFAULTS.tasksPerSenderPerHour,
});

/** `task_output:` when the configuration sets none of its keys. */
export const DEFAULT_TASK_OUTPUT_LIMITS: TaskOutputLimits = Object.freeze({
  maxOutboxFileBytes: DEFAULTS.maxOutboxFileBytes,
  maxOutboxTotalBytes: DEFAULTS.maxOutboxTotalBytes,
  maxOutboxFiles: DEFAULTS.maxOutboxFiles,
  maxLineBytes: DEFAULTS.maxLineBytes,
  maxEvents: DEFAULTS.maxEvents,
  maxNetworkRows: DEFAULTS.maxNetworkRows,
  maxKeptFileBytesPerTask: DEFAULTS.maxKeptFileBytesPerTask,
});

/** The npm package whose `claude` file is mounted into containers when `claude.binary` is not set. */
export const CLAUDE_BINARY_PACKAGE = '@anthropic-ai/claude-code-linux-x64';

/** Where people are told to start when the configuration file is missing. */
export const EXAMPLE_CONFIG_PATH = 'config/airut.example.yaml';
export const DEFAULT_CONFIG_PATH = 'config/airut.yaml';

/** `resource_limits:` when neither the repository nor the top level sets a key. */
export const DEFAULT_CONTAINER_LIMITS: ContainerLimits = Object.freeze({
  timeoutSeconds: null,
  memory: '2g',
  cpus: 1,
  pidsLimit: 512,
});

/** `github_app_credentials.*.base_url` when not set. */
export const GITHUB_API_BASE_URL = 'https://api.github.com';
