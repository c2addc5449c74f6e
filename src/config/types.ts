/**
 * The server configuration as the rest of the daemon sees it: validated, defaults filled in,
 * `!env` resolved, paths expanded, deeply frozen. Field names are camelCase; the YAML keys are
 * snake_case as in the specification (see config/airut.example.yaml and docs/configuration.md).
 */

/** How a mail connection is secured: implicit TLS, STARTTLS upgrade, or plain (loopback only). */
export type ConnectionSecurity = 'tls' | 'starttls' | 'none';

export interface DashboardConfig {
  readonly enabled: boolean;
  readonly host: string;
  readonly port: number;
  /** Public URL of the dashboard, used in links inside replies; null when not set. */
  readonly baseUrl: string | null;
  /** When set, every page and API call needs it. */
  readonly authToken: string | null;
  /** A login session unused for this long ends. */
  readonly sessionIdleSeconds: number;
  /** A login session ends this long after the login, however much it is used. */
  readonly sessionLifetimeSeconds: number;
  /**
   * `dashboard.hosts`: host name (lowercase) → the repositories a request for that Host sees; null
   * when not set. It narrows what is shown; tokens are what protect (docs/dashboard.md).
   */
  readonly hosts: Readonly<Record<string, readonly string[]>> | null;
}

export interface ClaudeConfig {
  /** Absolute path of the Claude Code binary mounted into containers. */
  readonly binaryPath: string;
  /** Full model names a `+alias` sub-address may select besides the short aliases. */
  readonly allowedModels: readonly string[];
}

/** `execution.backend`: where tasks run. */
export type ExecutionBackendKind = 'container' | 'kubernetes';

/** CPU and memory quantities of a pod's container (`kubernetes.resources`); a key left out is not set. */
export interface KubernetesResources {
  readonly requests?: { readonly cpu?: string; readonly memory?: string };
  readonly limits?: { readonly cpu?: string; readonly memory?: string };
}

/** One entry of `kubernetes.tolerations`, as the pod spec takes it. */
export interface KubernetesToleration {
  /** null: every taint (only with operator Exists). */
  readonly key: string | null;
  readonly operator: 'Exists' | 'Equal';
  readonly value: string | null;
  /** null: every effect. */
  readonly effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute' | null;
  /** NoExecute only: how long the pod stays bound after the taint appears. */
  readonly tolerationSeconds: number | null;
}

/** The `kubernetes:` section: where and how task pods run (docs/configuration.md, "Kubernetes backend"). */
export interface KubernetesConfig {
  /** Absolute path of the kubeconfig file; null: the in-cluster service account. */
  readonly kubeconfigPath: string | null;
  readonly context: string | null;
  readonly namespace: string;
  /** Where repository and tools images are pushed: `host[:port]/path`, no scheme, no tag. */
  readonly registry: string;
  readonly registryTlsVerify: boolean;
  readonly imagePullSecrets: readonly string[];
  readonly runtimeClassName: string | null;
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly tolerations: readonly KubernetesToleration[];
  /** sizeLimit of the pod's state emptyDir (a quantity). */
  readonly stateSizeLimit: string;
  /** Most bytes of a state bundle a pod may send back. */
  readonly maxStateBytes: number;
  readonly gateway: { readonly listenHost: string; readonly listenPort: number; readonly advertiseAddress: string };
  /** Default requests and limits of every repository (a repository's own keys override these). */
  readonly resources: KubernetesResources;
}

/** A repository's resolved pod settings (`repos.<id>.kubernetes` over `kubernetes.resources` over `resource_limits`). */
export interface RepoKubernetesConfig {
  readonly resources: KubernetesResources;
  /** null: the image's user. */
  readonly runAsUser: number | null;
}

export interface GlobalConfig {
  /** `execution.backend`. */
  readonly backend: ExecutionBackendKind;
  /** The `kubernetes:` section; null when absent (always set when backend is kubernetes). */
  readonly kubernetes: KubernetesConfig | null;
  readonly maxConcurrent: number;
  readonly shutdownTimeoutSeconds: number;
  readonly conversationMaxAgeDays: number;
  /** How long building a repository's image may take (`execution.image_build_timeout`). */
  readonly imageBuildTimeoutSeconds: number;
  /** `execution.image_max_age_hours`: an image older than this is rebuilt without cache; 0 never. */
  readonly imageMaxAgeHours: number;
  /** `execution.resilient_start`: as `--resilient`, start the valid repositories when others are invalid. */
  readonly resilientStart: boolean;
  readonly dashboard: DashboardConfig;
  readonly containerCommand: string;
  /** Network of task containers when a repo turns the sandbox off: `default` or `host`. */
  readonly containerNetwork: 'default' | 'host';
  readonly network: NetworkProxyConfig;
  /** Absolute path of the SQLite database file. */
  readonly databasePath: string;
  readonly claude: ClaudeConfig;
  /** What rejected mail may store; `rejected_mail:`. */
  readonly rejectedMail: RejectedMailPolicy;
  readonly taskOutput: TaskOutputLimits;
}

/** `rejected_mail:`: bounds on what mail the daemon refuses may leave on disk (src/limits/rejected-mail.ts). */
export interface RejectedMailPolicy {
  /** Bytes of rejected mail (header sections) stored per UTC day, all repositories together. */
  readonly maxStoredBytesPerDay: number;
  /** Mails refused by the screen one source may leave per hour before the rest is only counted; null: no limit. */
  readonly perSourcePerHour: number | null;
}

/**
 * How much of a task's output the daemon takes (`task_output:`). Sizes are bytes; an outbox file
 * counts as the larger of its apparent size and the space it takes on disk.
 */
export interface TaskOutputLimits {
  readonly maxOutboxFileBytes: number;
  readonly maxOutboxTotalBytes: number;
  readonly maxOutboxFiles: number;
  /** Longest stdout line of the agent kept whole. */
  readonly maxLineBytes: number;
  /** Agent events stored per task (the final result is always stored). */
  readonly maxEvents: number;
  /** Network-log rows stored per task. */
  readonly maxNetworkRows: number;
  /** Bytes of mail attachments and sent outbox files kept per task for the dashboard (0: none). */
  readonly maxKeptFileBytesPerTask: number;
}

/** Where the sandbox proxy connects for a name instead of resolving it. */
export interface UpstreamOverride {
  readonly host: string;
  /** Replaces the port the container asked for; null keeps it. */
  readonly port: number | null;
}

export interface NetworkProxyConfig {
  /** Lower-case host name → target. */
  readonly upstreamOverrides: Readonly<Record<string, UpstreamOverride>>;
}

/** How the daemon logs in to a repository's IMAP and SMTP accounts (one account, one method). */
export type MailLogin = PasswordLogin | OAuth2Login;

export interface PasswordLogin {
  readonly kind: 'password';
  readonly password: string;
}

/**
 * An OAuth2 login: an access token is obtained from `tokenUrl` and presented with SASL XOAUTH2
 * (or OAUTHBEARER where the IMAP server offers it) instead of a password.
 */
export interface OAuth2Login {
  readonly kind: 'oauth2';
  /** `microsoft_oauth2` (client credentials of an app registration) or `oauth2` (a refresh token). */
  readonly provider: 'microsoft' | 'generic';
  readonly grant: 'client_credentials' | 'refresh_token';
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Set exactly when `grant` is `refresh_token`. */
  readonly refreshToken: string | null;
  /** null: none is sent (the refresh token's own scope applies). */
  readonly scope: string | null;
  /** Microsoft only, for messages that name the tenant. */
  readonly tenantId: string | null;
}

/** How the IMAP and SMTP servers' certificates are checked (`email.tls`). */
export interface MailTlsConfig {
  /** Absolute path of `ca_file`; null when not set. */
  readonly caFile: string | null;
  /** Its PEM text, read when the configuration is loaded; trusted besides the system's CAs. */
  readonly caPem: string | null;
  /** Accept any certificate (lab servers only); logged as a warning at every connection. */
  readonly insecureSkipVerify: boolean;
}

export interface RepoEmailConfig {
  readonly imapServer: string;
  readonly imapPort: number;
  readonly imapSecurity: ConnectionSecurity;
  readonly smtpServer: string;
  readonly smtpPort: number;
  readonly smtpSecurity: ConnectionSecurity;
  readonly username: string;
  readonly login: MailLogin;
  readonly tls: MailTlsConfig;
  /** The From header as configured, e.g. `Airut <airut@example.com>`. */
  readonly from: string;
  /** The bare address of `from`, lowercased, e.g. `airut@example.com`. */
  readonly fromAddress: string;
}

export interface RepoImapConfig {
  /** Between checks when not idling; while idling, the safety check for mail nobody announced. */
  readonly pollIntervalSeconds: number;
  readonly useIdle: boolean;
  /** IDLE is ended and re-issued this often (providers drop long IDLEs silently). */
  readonly idleRefreshIntervalSeconds: number;
  /** The connection is closed and opened again (a fresh login) this often. */
  readonly idleReconnectIntervalSeconds: number;
}

/**
 * Limits on one repository's incoming mail (its own `limits:` over the top-level one over the
 * defaults). null means no limit. Rates count over the last hour, sliding.
 */
export interface MailLimits {
  /** Largest mail, in bytes as the IMAP server counts them. */
  readonly maxMessageBytes: number | null;
  /** Largest single attachment, decoded. */
  readonly maxAttachmentBytes: number | null;
  readonly maxAttachments: number | null;
  /** Tasks the repository accepts per hour, all senders together. */
  readonly tasksPerHour: number | null;
  /** Tasks one sender may start in the repository per hour. */
  readonly tasksPerSenderPerHour: number | null;
}

/** Claude Code's effort level (`--effort`). */
export type Effort = 'low' | 'medium' | 'high' | 'max';

/** Spending limits in USD (`budget:`); null means no limit. */
export interface SpendingLimits {
  /** One task's budget (--max-budget-usd); .airut/airut.yaml may lower it, never raise it. */
  readonly taskUsd: number | null;
  /** One sender in this repository, over any rolling 24 hours. */
  readonly senderPerDayUsd: number | null;
  /** One sender in this repository, in a calendar month (UTC). */
  readonly senderPerMonthUsd: number | null;
  /** The repository, all senders, over any rolling 24 hours. */
  readonly repoPerDayUsd: number | null;
  /** The repository, all senders, in a calendar month (UTC). */
  readonly repoPerMonthUsd: number | null;
}

/** Automatic retries after transient API failures (`retries:`). */
export interface RetryPolicy {
  readonly maxRetries: number;
  readonly initialDelaySeconds: number;
  readonly maxDelaySeconds: number;
  readonly maxTotalWaitSeconds: number;
}

/** A task run on a cron schedule (`schedules.<name>`). */
export interface ScheduleConfig {
  readonly name: string;
  readonly cron: string;
  /** IANA zone the cron expression is read in. */
  readonly timezone: string;
  /** Exactly one of `prompt` and `triggerCommand` is set (the rules check it). */
  readonly prompt: string | null;
  readonly triggerCommand: string | null;
  readonly triggerTimeoutSeconds: number;
  readonly outputLimitBytes: number;
  /** Subject of the reply; the schedule's name when not set. */
  readonly subject: string;
  /** null: the repository's model. */
  readonly model: string | null;
  /** null: the repository's effort. */
  readonly effort: Effort | null;
  readonly enabled: boolean;
  /** Address the reply is mailed to. */
  readonly deliverTo: string;
}

/** A secret the container sees only as a surrogate; the proxy swaps in the real value. */
export interface MaskedSecret {
  readonly value: string;
  /** Host patterns (`api.github.com`, `*.example.com`) where the real value may be sent. */
  readonly scopes: readonly string[];
  /** Request headers in which the surrogate is replaced. */
  readonly headers: readonly string[];
  /** Let other values in those headers through to scoped hosts instead of stripping them. */
  readonly allowForeignCredentials: boolean;
}

/** A GitHub App whose installation tokens the proxy mints; the container sees a surrogate. */
export interface GithubAppCredential {
  /** JWT `iss`: the Client ID, or the numeric App ID on older GitHub Enterprise Server. */
  readonly appId: string;
  /** PEM, PKCS#1 or PKCS#8. */
  readonly privateKey: string;
  readonly installationId: string;
  readonly scopes: readonly string[];
  readonly allowForeignCredentials: boolean;
  /** API base without a trailing slash: `https://api.github.com` or `https://HOST/api/v3`. */
  readonly baseUrl: string;
  /** null: the installation's own permissions. */
  readonly permissions: Readonly<Record<string, string>> | null;
  /** null: every repository of the installation. */
  readonly repositories: readonly string[] | null;
}

/** A task container's limits (`resource_limits`). */
export interface ContainerLimits {
  /** null: the repository's `.airut/airut.yaml` `timeout` (default 300) decides alone. */
  readonly timeoutSeconds: number | null;
  readonly memory: string;
  readonly cpus: number;
  readonly pidsLimit: number;
}

/** Credentials the proxy uses to re-sign requests (AWS SigV4); the container sees surrogates. */
export interface SigningCredential {
  readonly type: 'aws-sigv4';
  readonly accessKeyId: { readonly name: string; readonly value: string };
  readonly secretAccessKey: { readonly name: string; readonly value: string };
  readonly sessionToken: { readonly name: string; readonly value: string } | null;
  readonly scopes: readonly string[];
}

export interface RepoServerConfig {
  /** The key under `repos:`; safe for paths, container names and labels. */
  readonly repoId: string;
  readonly gitRepoUrl: string;
  /** Absolute, normalised. */
  readonly storageDir: string;
  readonly email: RepoEmailConfig;
  /** Lowercased; exact addresses or `*@domain`. */
  readonly authorizedSenders: readonly string[];
  /** '' skips the authserv-id comparison (Exchange Online); compared case-insensitively. */
  readonly trustedAuthservId: string;
  /** Accept mail without Authentication-Results when Exchange marks it AuthAs: Internal. */
  readonly microsoftInternalFallback: boolean;
  readonly imap: RepoImapConfig;
  /** Server-side break-glass: false turns the network sandbox off whatever the repository says. */
  readonly network: { readonly sandboxEnabled: boolean };
  readonly limits: MailLimits;
  /** Model of new conversations; null: the repository's .airut/airut.yaml `default_model`. */
  readonly model: string | null;
  /** Effort of new conversations; null: Claude Code's default (no --effort). */
  readonly effort: Effort | null;
  readonly budget: SpendingLimits;
  readonly retries: RetryPolicy;
  readonly schedules: Readonly<Record<string, ScheduleConfig>>;
  readonly secrets: Readonly<Record<string, string>>;
  readonly maskedSecrets: Readonly<Record<string, MaskedSecret>>;
  readonly githubAppCredentials: Readonly<Record<string, GithubAppCredential>>;
  readonly resourceLimits: ContainerLimits;
  /** Directory in the repository with the Dockerfile (`container_path`), without a trailing slash. */
  readonly containerPath: string;
  /** Capabilities added back after `--cap-drop=ALL` (validated against the allowed list). */
  readonly capabilities: readonly string[];
  /** Pod resources and user, used with `execution.backend: kubernetes`. */
  readonly kubernetes: RepoKubernetesConfig;
  readonly signingCredentials: Readonly<Record<string, SigningCredential>>;
  /** Where finished tasks are reported (docs/webhooks.md); null: nowhere. */
  readonly webhook: WebhookConfig | null;
  /**
   * Other repositories (ids) a task of this one may name, and the most access each may have:
   * mounted at /repos/<id>, read-only for `read` (docs/multi-repo.md). Empty: single-repository only.
   */
  readonly companions: Readonly<Record<string, 'read' | 'write'>>;
}

/** A repository's completion webhook: an operator's endpoint, outside the agent's network allowlist. */
export interface WebhookConfig {
  /** http or https, without user info. */
  readonly url: string;
  /** The HMAC-SHA256 key of `X-Airut-Signature`; never sent, never logged. */
  readonly secret: string;
  readonly events: readonly WebhookEventName[];
}

/** The events a webhook can ask for; `task.finished` is the only one so far. */
export const WEBHOOK_EVENTS = ['task.finished'] as const;
export type WebhookEventName = (typeof WEBHOOK_EVENTS)[number];

export interface ServerConfig {
  readonly global: GlobalConfig;
  readonly repos: Readonly<Record<string, RepoServerConfig>>;
  /** The file this configuration was read from. */
  readonly sourcePath: string;
}
