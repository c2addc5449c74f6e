/**
 * The configuration file as written (snake_case keys, optional sections, `null` for "left empty"),
 * after `!env` resolution. Only data that passed the JSON schema may be treated as these types.
 */
import type { ConnectionSecurity } from './types.ts';

export interface RawNamedValue {
  name: string;
  value: string;
}

/** `limits:` at the top level or in a repo. A key set to null means "no limit"; absent means "inherit". */
export interface RawLimits {
  max_message_bytes?: number | null;
  max_attachment_bytes?: number | null;
  max_attachments?: number | null;
  tasks_per_hour?: number | null;
  tasks_per_sender_per_hour?: number | null;
}

export type Effort = 'low' | 'medium' | 'high' | 'max';

export interface RawBudget {
  task_usd?: number | null;
  sender_per_day_usd?: number | null;
  sender_per_month_usd?: number | null;
  repo_per_day_usd?: number | null;
  repo_per_month_usd?: number | null;
}

export interface RawRetries {
  max_retries?: number;
  initial_delay_seconds?: number;
  max_delay_seconds?: number;
  max_total_wait_seconds?: number;
}

export interface RawSchedule {
  cron: string;
  timezone?: string;
  prompt?: string;
  trigger_command?: string;
  trigger_timeout?: number;
  output_limit?: number;
  subject?: string;
  model?: string;
  effort?: Effort | null;
  enable?: boolean;
  deliver: { to: string; channel?: 'email' };
}

export interface RawRepo {
  git: { repo_url: string };
  storage_dir: string;
  email: {
    imap_server: string;
    imap_port?: number;
    imap_security?: ConnectionSecurity;
    smtp_server: string;
    smtp_port?: number;
    smtp_security?: ConnectionSecurity;
    username: string;
    password?: string;
    from: string;
    tls?: { ca_file?: string; insecure_skip_verify?: boolean } | null;
    microsoft_oauth2?: { tenant_id: string; client_id: string; client_secret: string; token_url?: string; scope?: string } | null;
    oauth2?: { token_url: string; client_id: string; client_secret: string; refresh_token: string; scope?: string } | null;
  };
  authorized_senders: string[];
  trusted_authserv_id: string;
  microsoft_internal_fallback?: boolean;
  imap?: { poll_interval?: number; use_idle?: boolean; idle_refresh_interval?: number; idle_reconnect_interval?: number } | null;
  network?: { sandbox_enabled?: boolean } | null;
  limits?: RawLimits | null;
  companions?: Record<string, 'read' | 'write'> | null;
  model?: string | null;
  effort?: Effort | null;
  budget?: RawBudget | null;
  retries?: RawRetries | null;
  schedules?: Record<string, RawSchedule> | null;
  secrets?: Record<string, string> | null;
  masked_secrets?: Record<string, { value: string; scopes: string[]; headers: string[]; allow_foreign_credentials?: boolean }> | null;
  github_app_credentials?: Record<string, RawGithubAppCredential> | null;
  resource_limits?: RawResourceLimits | null;
  capabilities?: string[] | null;
  kubernetes?: RawRepoKubernetes | null;
  container_path?: string;
  webhook?: { url: string; secret: string; events?: string[] } | null;
  signing_credentials?: Record<
    string,
    {
      type: 'aws-sigv4';
      access_key_id: RawNamedValue;
      secret_access_key: RawNamedValue;
      session_token?: RawNamedValue | null;
      scopes: string[];
    }
  > | null;
}

export interface RawGithubAppCredential {
  app_id: string | number;
  private_key: string;
  installation_id: string | number;
  scopes: string[];
  allow_foreign_credentials?: boolean;
  base_url?: string;
  permissions?: Record<string, string> | null;
  repositories?: string[] | null;
}

export interface RawResourceLimits {
  timeout?: number | null;
  memory?: string;
  cpus?: number;
  pids_limit?: number;
}

export interface RawKubeResources {
  requests?: { cpu?: string; memory?: string } | null;
  limits?: { cpu?: string; memory?: string } | null;
}

export interface RawRepoKubernetes {
  resources?: RawKubeResources | null;
  run_as_user?: number | null;
}

export interface RawToleration {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  toleration_seconds?: number;
}

export interface RawKubernetes {
  kubeconfig?: string | null;
  context?: string | null;
  namespace: string;
  registry: string;
  registry_tls_verify?: boolean;
  image_pull_secrets?: string[] | null;
  runtime_class?: string | null;
  node_selector?: Record<string, string> | null;
  tolerations?: RawToleration[] | null;
  state_size_limit?: string;
  max_state_bytes?: number;
  gateway: { listen_host?: string; listen_port?: number; advertise_address: string };
  resources?: RawKubeResources | null;
}

export interface RawServerConfig {
  execution?: {
    backend?: 'container' | 'kubernetes';
    max_concurrent?: number;
    shutdown_timeout?: number;
    conversation_max_age_days?: number;
    image_build_timeout?: number;
    resilient_start?: boolean;
    image_max_age_hours?: number;
  } | null;
  task_output?: {
    max_outbox_file_bytes?: number;
    max_outbox_total_bytes?: number;
    max_outbox_files?: number;
    max_line_bytes?: number;
    max_events?: number;
    max_network_rows?: number;
    max_kept_file_bytes_per_task?: number;
  } | null;
  dashboard?: {
    enabled?: boolean;
    host?: string;
    port?: number;
    base_url?: string | null;
    auth_token?: string | null;
    session_idle_timeout?: number;
    session_lifetime?: number;
    hosts?: Record<string, string[]> | null;
  } | null;
  container_command?: 'podman' | 'docker';
  container_network?: 'default' | 'host';
  network?: { upstream_overrides?: Record<string, string> | null } | null;
  database?: string;
  claude?: { binary?: string | null; allowed_models?: string[] | null } | null;
  limits?: RawLimits | null;
  budget?: RawBudget | null;
  retries?: RawRetries | null;
  resource_limits?: RawResourceLimits | null;
  capabilities?: string[] | null;
  kubernetes?: RawKubernetes | null;
  rejected_mail?: { max_stored_bytes_per_day?: number; per_source_per_hour?: number | null } | null;
  repos?: Record<string, RawRepo> | null;
}
