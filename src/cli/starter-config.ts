/** The configuration `airut init` writes: one repository, every secret through `!env`. */

/** The environment variables the starter configuration reads; `airut check` needs them set. */
export const STARTER_ENV_VARS = ['EMAIL_PASSWORD_MY_REPO', 'CLAUDE_CODE_OAUTH_TOKEN'] as const;

export const STARTER_CONFIG = `# airut-ts server configuration, written by \`airut init\`.
# Every key and its default: docs/configuration.md; a fuller example: config/airut.example.yaml.
# Secrets come from the environment through !env (set them in the service's EnvironmentFile).
# Validate with \`airut check\`, try the servers with \`airut doctor\`, then run \`airut start\`.

# execution:
#   max_concurrent: 3       # tasks running at once, across all repositories
#   shutdown_timeout: 60    # seconds running tasks get to finish when the daemon stops

dashboard:
  enabled: true
  host: 127.0.0.1           # this machine only
  port: 5200
  # auth_token: !env AIRUT_DASHBOARD_TOKEN   # 32+ characters: openssl rand -hex 32

database: ~/.local/share/airut/airut.db   # SQLite file, created if missing

repos:
  my-repo:                  # the repository's id: letters, digits, - and _
    git:
      repo_url: https://github.com/example/my-repo.git   # what \`git clone\` uses
    storage_dir: ~/.local/share/airut/my-repo            # git mirror and conversations
    email:
      imap_server: mail.example.com
      smtp_server: mail.example.com
      username: my-repo-bot
      password: !env EMAIL_PASSWORD_MY_REPO
      from: "My repo bot <my-repo-bot@example.com>"      # replies come from here
    authorized_senders:     # who may send tasks: addresses or *@domain
      - you@example.com
    trusted_authserv_id: mail.example.com   # the authserv-id your server writes in Authentication-Results
    secrets:                # handed to Claude Code in the container
      CLAUDE_CODE_OAUTH_TOKEN: !env CLAUDE_CODE_OAUTH_TOKEN
`;
