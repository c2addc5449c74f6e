/**
 * A repository whose agent reaches the mock Anthropic API only through the sandbox proxy: the CLI is
 * pointed at `https://api.mock.test`, which the allowlist admits for POST /v1/messages and the
 * daemon's `network.upstream_overrides` sends to the mock's TLS front. Shared by the Kubernetes
 * suites (stand-in and real cluster), where that proxy is the pod's only way out.
 */
export const MOCK_API_HOST = 'api.mock.test';

export function sandboxedRepoYaml(timeoutSeconds: number): string {
  return `default_model: sonnet
timeout: ${timeoutSeconds}
container_env:
  ANTHROPIC_BASE_URL: !secret ANTHROPIC_BASE_URL
  ANTHROPIC_API_KEY: !secret ANTHROPIC_API_KEY
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1"
  DISABLE_AUTOUPDATER: "1"
`;
}

/** The `env.repo()` options: the CLI's secrets and the allowlist file. */
export const sandboxedRepoOptions = {
  secrets: { ANTHROPIC_BASE_URL: `https://${MOCK_API_HOST}`, ANTHROPIC_API_KEY: 'test-key' },
  extraFiles: { '.airut/network-allowlist.yaml': `url_prefixes:\n  - host: ${MOCK_API_HOST}\n    path: /v1/messages*\n    methods: [POST]\n` },
};
