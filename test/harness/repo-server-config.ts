/**
 * A complete RepoServerConfig for unit tests that need one without loading a config file: every
 * field filled with an inert value (ports 1, loopback, no secrets, default limits, sandbox on).
 * Tests override what they exercise; a new config field is added here once instead of in every test.
 */
import type { RepoServerConfig } from '../../src/config/types.ts';
import { DEFAULT_BUDGET, DEFAULT_CONTAINER_LIMITS, DEFAULT_MAIL_LIMITS, DEFAULT_RETRIES } from '../../src/config/defaults.ts';

type Overrides = Partial<Omit<RepoServerConfig, 'email'>> & { email?: Partial<RepoServerConfig['email']> };

export function testRepoServerConfig(repoId: string, overrides: Overrides = {}): RepoServerConfig {
  const { email, ...rest } = overrides;
  return {
    repoId,
    gitRepoUrl: 'file:///nonexistent.git',
    storageDir: `/tmp/airut-${repoId}`,
    email: {
      imapServer: '127.0.0.1',
      imapPort: 1,
      imapSecurity: 'none',
      smtpServer: '127.0.0.1',
      smtpPort: 1,
      smtpSecurity: 'none',
      username: 'bot',
      login: { kind: 'password', password: 'pw' }, tls: { caFile: null, caPem: null, insecureSkipVerify: false },
      from: `Bot <${repoId}-bot@repo.example>`,
      fromAddress: `${repoId}-bot@repo.example`,
      ...email,
    },
    authorizedSenders: ['*@example.com'],
    trustedAuthservId: 'mx.repo.example',
    microsoftInternalFallback: false,
    imap: { pollIntervalSeconds: 30, useIdle: true, idleRefreshIntervalSeconds: 600, idleReconnectIntervalSeconds: 1740 },
    limits: DEFAULT_MAIL_LIMITS,
    model: null,
    effort: null,
    budget: DEFAULT_BUDGET,
    retries: DEFAULT_RETRIES,
    schedules: {},
    companions: {},
    network: { sandboxEnabled: true },
    kubernetes: { resources: { limits: { cpu: '1', memory: '2Gi' } }, runAsUser: null },
    secrets: {},
    maskedSecrets: {},
    signingCredentials: {},
    githubAppCredentials: {},
    resourceLimits: DEFAULT_CONTAINER_LIMITS,
    capabilities: [],
    containerPath: '.airut/container',
    webhook: null,
    ...rest,
  };
}
