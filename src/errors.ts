/**
 * Typed errors. Every error the daemon raises on purpose carries a stable `code` (for branching,
 * for logs and metrics) and a message a person can act on.
 *
 * The codes are a closed union: `ERROR_CODES` below is the one place each code is written down,
 * with what it means and where to look, and `ErrorCode` is derived from it, so a code that is
 * misspelled where it is thrown or compared is a type error. test/errors.test.ts keeps the table
 * free of codes that nothing throws any more.
 *
 * There is no retry advice on these errors. An earlier `retry: 'never' | 'later'` field was set
 * at a dozen throw sites and carried across threads, but nothing ever decided on it: the runner
 * answers every failed task with an error reply, the outbox sender classifies SMTP errors itself,
 * and a runner thread's error reaches the dispatcher through Piscina without its fields. When a
 * caller comes to branch on "try again later" (the task retries of a later issue), the rule belongs
 * to that caller, keyed by these codes.
 */

/** Every code the daemon throws, and what a person reading it in a log should know. */
export const ERROR_CODES = {
  // --- configuration -------------------------------------------------------------------------
  CONFIG_INVALID: 'the server configuration (or a command-line option) is invalid; the message lists every problem with its path',
  REPO_CONFIG_INVALID: "the repository's .airut/airut.yaml on its default branch is invalid; the message lists every problem",
  ALLOWLIST_INVALID: "the repository's .airut/network-allowlist.yaml is invalid; fix it on the default branch",
  ALLOWLIST_MISSING: 'the network sandbox is on but the repository has no .airut/network-allowlist.yaml on its default branch',

  // --- the airut command ---------------------------------------------------------------------
  CLI_USAGE: 'the `airut` command was given an unknown subcommand or option, or an option without its value; the message shows the usage',
  CLI_FILE_EXISTS: '`airut init` or `airut install-service` would overwrite an existing file; choose another path or move the file away',
  DAEMON_NOT_RUNNING: '`airut reload` found no running daemon: no pid file beside the database, or one left by a daemon that has exited',
  API_UNREACHABLE: '`airut submit` or `airut logs` could not reach the dashboard (daemon not running, dashboard off, or a wrong --url / AIRUT_URL)',
  API_REFUSED: "the dashboard's API answered `airut submit` or `airut logs` with an error (bad input, bad token, unknown task); the message carries the server's",
  API_STREAM_FAILED: "`--follow` lost the task's live stream and could not get it back",
  DAEMON_ALREADY_RUNNING: 'a daemon is already running with this database (its pid file names a live airut-ts process); stop it first',
  API_TOKEN_INVALID: '`airut token create` was given a repository the configuration does not have, a name already used (revoked tokens keep theirs), or rights other than read and submit',
  API_TOKEN_NOT_FOUND: '`airut token revoke` found no token of that name; `airut token list` shows them',

  // --- threads -------------------------------------------------------------------------------
  THREAD_GONE: 'a call across threads could not complete because the other thread exited or closed its port',
  THREAD_TIMEOUT: 'a call across threads got no answer within its deadline; the other thread is busy or stuck',
  THREAD_BUNDLE_FAILED: 'a thread entry module could not be bundled with esbuild; check that `npm ci` completed',

  // --- lifecycle -----------------------------------------------------------------------------
  LIFECYCLE_TRANSITION_REFUSED: 'a part of the daemon was asked to change to a state it cannot reach from its current one (a bug; the message names the part and both states)',

  // --- database ------------------------------------------------------------------------------
  DATABASE_OPEN_FAILED: 'the SQLite file in `database:` could not be opened; check the path and that its directory is writable',
  DATABASE_SCHEMA_UNEXPECTED: 'the database schema is not one this airut-ts wrote; restore a backup, or point `database:` at another file',
  DATABASE_TOO_NEW: 'the database was written by a newer airut-ts; upgrade, or point `database:` at another file',
  TASK_NOT_FOUND: 'a dispatched task (or its stored message) is missing from the database',

  // --- git -----------------------------------------------------------------------------------
  GIT_UNAVAILABLE: 'the git program could not be run; install git or fix PATH',
  GIT_URL_INVALID: "a repository's git URL is empty or starts with '-'",
  GIT_PATH_INVALID: 'a path given to the mirror is empty or points outside the repository',
  GIT_CLONE_FAILED: "cloning the mirror, or the conversation's workspace from it, failed; the message carries git's complaint",
  GIT_FETCH_FAILED: "fetching the repository into its mirror failed (network, credentials, or the remote); git's complaint is in the message",
  GIT_CONFIG_FAILED: "the mirror's configuration (its public URL) could not be written",
  GIT_NO_DEFAULT_BRANCH: "the remote's default branch could not be determined",
  GIT_EMPTY_REPOSITORY: 'the repository has no commits on its default branch',
  GIT_READ_FAILED: 'a file or directory could not be read from the mirror',
  GIT_NOT_A_FILE: 'a path read from the mirror is a directory, link or submodule, not a regular file',
  GIT_LOCK_TIMEOUT: 'waiting for a file lock on the mirror timed out; another process holds it (the message says which)',
  GIT_SCRUB_FAILED: "credentials could not be removed from a workspace's git configuration",

  // --- conversations -------------------------------------------------------------------------
  CONVERSATION_ID_INVALID: 'a conversation ID is not 8 lowercase hex characters',
  CONVERSATION_EXISTS: 'a new conversation was to be created under an ID that already has a directory',
  CONVERSATION_NOT_FOUND: "a conversation's directory does not exist (deleted by the idle sweep, or never created)",
  CONVERSATION_CONTEXT_INVALID: "a conversation's context.json is unreadable or belongs to another conversation",
  CONVERSATION_UNSAFE_PATH: 'a conversation path is a link or not the expected kind of file; refused so nothing escapes the directory',
  ATTACHMENT_NAME_EXHAUSTED: 'no free file name was left in inbox/ for an attachment',

  // --- mail accounts -------------------------------------------------------------------------
  MAIL_OAUTH2_FAILED: "the OAuth2 provider gave no access token for a repository's mailbox: it refused (revoked consent, wrong tenant, bad secret) or did not answer usefully (timeout, 5xx); the provider's own error is in the message",

  // --- the task, as the sender is told --------------------------------------------------------
  MAIL_EMPTY: 'the mail had neither subject nor body text (after removing the quoted history)',
  IMAGE_CONTEXT_MISSING: 'the repository has no .airut/container/Dockerfile on its default branch',
  REPOS_REFUSED: "a task's companion repositories (Repos: line or API `repositories`) were refused: malformed, not in the primary's `companions`, more access than it grants, the sender not authorized for one, or a backend that cannot mount them; the reason is in the message",

  // --- sandbox and container runtime -----------------------------------------------------------
  CONTAINER_RUNTIME_MISSING: 'the container CLI (`container_command`) was not found on PATH',
  CONTAINER_FAILED: 'a container CLI command failed or did not finish in time; its stderr is in the message',
  IMAGE_BUILD_FAILED: "building the repository's container image failed; the build log's last lines are in the message",
  IMAGE_BUILD_TIMEOUT: 'building the image took longer than `execution.image_build_timeout` and was stopped',
  IMAGE_PUSH_FAILED: "pushing an image to `kubernetes.registry` failed or gave no usable digest; the runtime's last stderr lines are in the message (check the registry address, its TLS setting and the runtime's login)",
  CLAUDE_BINARY_MISSING: 'the Claude Code binary is missing, not executable, or its configured path is not absolute',
  SANDBOX_SPEC_INVALID: 'a container was described with an invalid label, env variable or mount (a bug, or an unsafe value refused)',
  SANDBOX_ENV_DIR_UNSAFE: 'the directory for env files with secrets is not owned by the daemon or is writable by others',
  SANDBOX_PREPARE_FAILED: "the network sidecar's files could not be prepared at start-up",
  SANDBOX_PATH_TOO_LONG: "the proxy's Unix socket path is over the kernel's limit; move the database to a shorter path",
  SANDBOX_CA_FAILED: "the sandbox proxy's certificate authority could not be created or read",
  SANDBOX_SIDECAR_FAILED: "a task's network sidecar did not become ready; its output is in the message",
  SANDBOX_START_FAILED: "a task's network sandbox could not be started, so the task did not run",
  KUBE_API_REFUSED: "the Kubernetes API server refused a request (forbidden, quota exceeded, conflict, invalid object); the message names the verb, the object and the server's own reason",
  KUBE_API_UNREACHABLE: "the Kubernetes API server could not be reached (address, TLS or network); check `kubernetes.kubeconfig` and the cluster",
  GITHUB_APP_TOKEN_FAILED: "the sandbox proxy could not mint a GitHub App installation token (the message names the credential, its base_url and GitHub's status); check app_id, private_key and installation_id in the repository's github_app_credentials",
  // --- kubernetes: conversation state and the pod gateway -------------------------------------
  KUBE_STATE_REJECTED: "the conversation state a Kubernetes pod returned was refused (an unsafe, oversized or malformed tar); the host's conversation directories were left as they were, and the message names the entry",
  KUBE_TOOLS_MISSING: 'a file for the Kubernetes tools image (the static busybox, the Claude Code binary or pod-entry.sh) is missing or not a regular file',
  EAIRUTFORBIDDEN: 'the proxy refused an upstream host that resolves only to local or link-local addresses (errno-style, as the proxy reports socket errors)',
} as const satisfies Record<string, string>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class AirutError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * An error thrown in another thread whose code is not one of ours (a SQLite or Node code such as
 * `SQLITE_BUSY`, or none), rebuilt by the thread RPC with the other side's name, code and message.
 * It is not an AirutError: its code is whatever the other side said, outside the union.
 */
export class RemoteError extends Error {
  readonly code: string;

  constructor(code: string | undefined, message: string) {
    super(message);
    this.name = 'RemoteError';
    this.code = code ?? 'REMOTE_ERROR';
  }
}

/** One problem in a configuration file, located by its dotted path (`repos.api.email.imap_port`). */
export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
}

/** The configuration is invalid. Holds every problem found, not just the first. */
export class ConfigError extends AirutError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[], source?: string) {
    const lines = problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message));
    const head = source ? `invalid configuration in ${source}` : 'invalid configuration';
    super('CONFIG_INVALID', `${head}:\n  ${lines.join('\n  ')}`);
    this.problems = Object.freeze([...problems]);
  }
}

/** A call across threads could not complete: the other side exited, or did not answer in time. */
export class ThreadCallError extends AirutError {
  constructor(code: 'THREAD_GONE' | 'THREAD_TIMEOUT', message: string) {
    super(code, message);
  }
}

/** Whether `code` is one of ours (a code that crossed a thread arrives as a plain string). */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}
