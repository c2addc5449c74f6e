/**
 * A thin wrapper over the container CLI (`podman` by default, `docker` accepted).
 *
 * Only flags and subcommands both CLIs accept are used, and output is read with Go templates both
 * understand (`{{.Names}}`, `{{json .Config.Labels}}`). `--format json`, whose shape differs between
 * the two, is read once: podman's `ps`, which lists containers whose storage is gone (listContainers).
 * Values of secrets never pass through here: see run-agent.ts.
 *
 * The CLI runs with a fixed, minimal environment (runtimeEnv): a few variables the operator may set
 * for the runtime, taken from the daemon's own environment, and nothing else. Nothing a repository
 * chooses ever reaches it — task variables go to the container through an env file (env-file.ts).
 */
import { spawn } from 'node:child_process';
import { runProgram, type ProgramResult } from '../os/run-program.ts';
import { basename } from 'node:path';
import { AirutError } from '../errors.ts';
import { childPids, signalDescendants } from './process-tree.ts';

/** How many lines of a failed build's log the error message carries. */
const BUILD_LOG_TAIL_LINES = 40;
/** Generous limit for the short management commands (inspect, ps, rm); a build has none. */
const COMMAND_TIMEOUT_MS = 120_000;
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

export interface ContainerRuntimeOptions {
  /** The CLI to run: `podman` (default) or `docker`, or an absolute path to one of them. */
  readonly command?: string;
  /** Extra environment for the CLI (e.g. `CONTAINERS_CONF`), merged over runtimeEnv(). Operator or test settings only. */
  readonly env?: Readonly<Record<string, string>>;
  /** Which CLI `command` is, where the two differ; from its file name when unset (`docker` or else podman). */
  readonly kind?: RuntimeKind;
}

/** The two CLIs the daemon drives. Where they differ, the code branches on this (see docs/deployment.md). */
export type RuntimeKind = 'podman' | 'docker';

/** The kind of a CLI from its name or path: `docker` is Docker, anything else is taken for podman. */
export function runtimeKind(command: string): RuntimeKind {
  return basename(command) === 'docker' ? 'docker' : 'podman';
}

/**
 * The daemon's variables the container CLI may see: where it finds its configuration, storage,
 * user session and remote service. The operator sets these for the daemon; podman and docker read
 * them. Proxy variables are left out on purpose: `podman run` copies them into every container.
 */
export const RUNTIME_ENV_NAMES: readonly string[] = Object.freeze([
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'TMPDIR',
  'XDG_RUNTIME_DIR',
  'XDG_CONFIG_HOME',
  'XDG_DATA_HOME',
  'DBUS_SESSION_BUS_ADDRESS',
  'CONTAINERS_CONF',
  'CONTAINERS_CONF_OVERRIDE',
  'CONTAINERS_STORAGE_CONF',
  'CONTAINERS_REGISTRIES_CONF',
  'CONTAINER_HOST',
  'CONTAINER_CONNECTION',
  'CONTAINER_SSHKEY',
  'REGISTRY_AUTH_FILE',
  'DOCKER_HOST',
  'DOCKER_CONTEXT',
  'DOCKER_CONFIG',
  'DOCKER_CERT_PATH',
  'DOCKER_TLS_VERIFY',
]);

/** The fixed environment of every container CLI process: RUNTIME_ENV_NAMES from `from`, if set. */
export function runtimeEnv(from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of RUNTIME_ENV_NAMES) {
    const v = from[name];
    if (typeof v === 'string') env[name] = v;
  }
  env.PATH ??= '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  return env;
}

export interface CommandResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ContainerSummary {
  /** The full id, as the runtime prints it (`.Id`). */
  readonly id: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** `running`, `exited`, `created`, … as the runtime reports it. */
  readonly state: string;
}

export interface ImageSummary {
  /** `repository:tag` as it was built (podman's `localhost/` prefix removed); `<none>:<none>` when untagged. */
  readonly tag: string;
  readonly id: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** The string-valued entries of a JSON object (labels); anything else is an empty record. */
function stringRecord(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v === null || typeof v !== 'object') return out;
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

/**
 * Labels printed by `{{json .Config.Labels}}`: a JSON object (`null` when there are none). A JSON
 * string `k=v,k2=v2` (docker's `images --format '{{.Labels}}'` style) is read too.
 */
export function parseImageLabels(text: string): Record<string, string> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return {};
  }
  if (value && typeof value === 'object' && !Array.isArray(value)) return stringRecord(value);
  if (typeof value === 'string') {
    const out: Record<string, string> = {};
    for (const pair of value.split(',')) {
      const i = pair.indexOf('=');
      if (i > 0) out[pair.slice(0, i)] = pair.slice(i + 1);
    }
    return out;
  }
  return {};
}

export interface BuildImageOptions {
  readonly contextDir: string;
  readonly tag: string;
  readonly labels?: Readonly<Record<string, string>>;
  /** Dockerfile path, relative to the context; `Dockerfile` when not set. */
  readonly dockerfile?: string;
  /** Longest the build may take; then it is stopped and fails with IMAGE_BUILD_TIMEOUT. None when unset. */
  readonly timeoutMs?: number;
  /**
   * A stale image's rebuild: `--no-cache` (every step runs again, so package updates arrive, as in
   * Airut) and a fresh look at the base image, which `--no-cache` alone does not take: podman
   * `--pull=newer` (pulls a changed base, keeps the local one when the registry cannot be reached),
   * Docker `--pull` (always asks the registry).
   */
  readonly noCache?: boolean;
}

/** After a build's RUN processes were killed, how long podman gets to fail the step and clean up. */
const BUILD_CLEANUP_GRACE_MS = 15_000;

/** An RFC 3339 time as JSON (`"2026-12-02T20:27:11.845136588Z"`), nanoseconds cut to milliseconds; null if unreadable. */
export function parseCreated(json: string): number | null {
  let text: unknown;
  try {
    text = JSON.parse(json.trim());
  } catch {
    return null;
  }
  if (typeof text !== 'string') return null;
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.exec(text);
  if (!m) return null;
  const ms = Date.parse(`${m[1]}${(m[2] ?? '').slice(0, 4)}${m[3]}`);
  return Number.isNaN(ms) ? null : ms;
}

/** The last `count` non-empty lines of a log, for error messages. */
export function tailLines(text: string, count: number): string {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  return lines.slice(-count).join('\n');
}

interface PodmanPsEntry {
  readonly Id?: unknown;
  readonly Names?: unknown;
  readonly State?: unknown;
  readonly Labels?: unknown;
}

/** podman's `ps --format json`: an array of containers (`Names` a list, `State` lower case, `Labels` a map or null). */
export function parsePodmanPs(stdout: string): ContainerSummary[] {
  const text = stdout.trim();
  if (text === '') return [];
  let entries: unknown;
  try {
    entries = JSON.parse(text);
  } catch {
    throw new AirutError('CONTAINER_FAILED', `listing containers: podman ps printed no JSON: ${tailLines(text, 5)}`);
  }
  if (!Array.isArray(entries)) throw new AirutError('CONTAINER_FAILED', 'listing containers: podman ps printed no list');
  const found: ContainerSummary[] = [];
  for (const e of entries as PodmanPsEntry[]) {
    const name = Array.isArray(e.Names) && typeof e.Names[0] === 'string' ? e.Names[0] : undefined;
    if (name === undefined) continue;
    found.push({
      id: typeof e.Id === 'string' ? e.Id : '',
      name,
      state: typeof e.State === 'string' ? e.State.toLowerCase() : 'unknown',
      labels: stringRecord(e.Labels),
    });
  }
  return found;
}

function isNoSuchObject(stderr: string): boolean {
  return /no such (container|image|object)|image not known|not found|no container with (name|id)/i.test(stderr);
}

export class ContainerRuntime {
  readonly command: string;
  readonly env: Readonly<Record<string, string>>;
  readonly kind: RuntimeKind;

  constructor(options: ContainerRuntimeOptions = {}) {
    this.command = options.command ?? 'podman';
    this.env = { ...(options.env ?? {}) };
    this.kind = options.kind ?? runtimeKind(this.command);
  }

  /**
   * podman's `run --replace` removes a container of the same name (a leftover of a crashed run of
   * the same task) as part of the run; Docker has no such flag, so its callers remove it first with
   * `rm -f` — one more CLI call (about 40 ms) before every run, which podman runs skip.
   */
  get replacesOnRun(): boolean {
    return this.kind === 'podman';
  }

  /** The environment every CLI process runs with: runtimeEnv() plus this runtime's own settings. */
  processEnv(): NodeJS.ProcessEnv {
    return { ...runtimeEnv(), ...this.env };
  }

  /**
   * Runs the CLI with `args` and resolves with its exit code and output; a non-zero exit is not an
   * error here (callers decide). Rejects only when the CLI cannot be started at all.
   */
  async exec(args: readonly string[], options: { timeoutMs?: number } = {}): Promise<CommandResult> {
    const timeout = options.timeoutMs ?? COMMAND_TIMEOUT_MS;
    let r: ProgramResult;
    try {
      // Through the spawn helper (src/os/run-program.ts): a daemon of gigabytes forks slowly.
      r = await runProgram(this.command, args, { env: this.processEnv(), timeoutMs: timeout, maxStdoutBytes: MAX_OUTPUT_BYTES, stderrKeepBytes: MAX_OUTPUT_BYTES });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw this.missingError(error);
      throw error;
    }
    if (r.timedOut) {
      throw new AirutError('CONTAINER_FAILED', `${this.command} ${args[0] ?? ''} did not finish within ${Math.round(timeout / 1000)} s`);
    }
    // Output past the limit (the process was stopped) or a signal count as a failed run.
    const exitCode = r.overflow ? 1 : (r.code ?? 1);
    return { exitCode, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') };
  }

  /** The error for a CLI that is not installed; used by every caller that starts the CLI. */
  missingError(cause?: unknown): AirutError {
    return new AirutError(
      'CONTAINER_RUNTIME_MISSING',
      `container runtime "${this.command}" was not found on PATH; install it or set container_command`,
      { cause },
    );
  }

  /** Like `exec`, but a non-zero exit becomes a CONTAINER_FAILED error with the CLI's stderr. */
  async execOk(args: readonly string[], what: string): Promise<CommandResult> {
    const r = await this.exec(args);
    if (r.exitCode !== 0) {
      throw new AirutError(
        'CONTAINER_FAILED',
        `${what} failed (${this.command} exit ${r.exitCode}): ${tailLines(r.stderr || r.stdout, 10)}`,
      );
    }
    return r;
  }

  async imageExists(tag: string): Promise<boolean> {
    const r = await this.exec(['image', 'inspect', '--format', '{{.Id}}', tag]);
    if (r.exitCode === 0) return true;
    if (isNoSuchObject(r.stderr)) return false;
    throw new AirutError('CONTAINER_FAILED', `cannot inspect image ${tag}: ${tailLines(r.stderr, 10)}`);
  }

  /**
   * When the image with this tag was created (ms since the epoch, from `image inspect`), or null when
   * there is none. `{{json .Created}}` is RFC 3339 in podman and Docker alike.
   */
  async imageCreatedAt(tag: string): Promise<number | null> {
    const r = await this.exec(['image', 'inspect', '--format', '{{json .Created}}', tag]);
    if (r.exitCode !== 0) {
      if (isNoSuchObject(r.stderr)) return null;
      throw new AirutError('CONTAINER_FAILED', `cannot inspect image ${tag}: ${tailLines(r.stderr, 10)}`);
    }
    const created = parseCreated(r.stdout);
    if (created === null) throw new AirutError('CONTAINER_FAILED', `cannot read the creation time of image ${tag} from ${this.command}: ${r.stdout.trim().slice(0, 200)}`);
    return created;
  }

  /**
   * Builds an image and resolves with the build log. On failure the error message ends with the last
   * lines of the log, which is where Dockerfile mistakes show.
   */
  async buildImage(options: BuildImageOptions): Promise<string> {
    const args = ['build', '-t', options.tag];
    if (options.noCache) args.push('--no-cache', this.kind === 'docker' ? '--pull' : '--pull=newer');
    for (const [k, v] of Object.entries(options.labels ?? {})) args.push('--label', `${k}=${v}`);
    if (options.dockerfile) args.push('-f', `${options.contextDir}/${options.dockerfile}`);
    args.push(options.contextDir);
    const r = await this.runBuild(args, options.timeoutMs);
    // podman writes steps to stdout and warnings to stderr; docker (BuildKit) writes everything to stderr.
    const log = [r.stdout, r.stderr].filter((s) => s.trim() !== '').join('\n');
    if (r.timedOut) {
      throw new AirutError(
        'IMAGE_BUILD_TIMEOUT',
        `building image ${options.tag} did not finish within ${formatSeconds(options.timeoutMs ?? 0)} and was stopped; ` +
          `last lines of the build log:\n${tailLines(log, BUILD_LOG_TAIL_LINES)}`,
      );
    }
    if (r.exitCode !== 0) {
      throw new AirutError(
        'IMAGE_BUILD_FAILED',
        `building image ${options.tag} from ${options.contextDir} failed (exit ${r.exitCode}); ` +
          `last lines of the build log:\n${tailLines(log, BUILD_LOG_TAIL_LINES)}`,
      );
    }
    return log;
  }

  /**
   * Runs a build, stopping it when `timeoutMs` passes. Stopping first kills the processes of the
   * RUN step in progress (the build's grandchildren): the step fails and podman removes its working
   * container as after any failed step. Signalling podman itself would leave that container behind.
   * If the build does not end by itself then (docker builds in its daemon; a step without
   * processes, such as a pull), the CLI gets SIGTERM, and SIGKILL 10 s later.
   */
  private runBuild(args: readonly string[], timeoutMs: number | undefined): Promise<CommandResult & { timedOut: boolean }> {
    return new Promise((resolve, reject) => {
      // Its own process group, as for every management command (run-program.ts): a stop signal to the
      // daemon's group would abort the build of a task that is meant to drain.
      const child = spawn(this.command, args, { env: this.processEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      const out: Record<'stdout' | 'stderr', Buffer[]> = { stdout: [], stderr: [] };
      const sizes = { stdout: 0, stderr: 0 };
      for (const name of ['stdout', 'stderr'] as const) {
        child[name].on('data', (chunk: Buffer) => {
          out[name].push(chunk);
          sizes[name] += chunk.length;
          // Keep the end of a huge log: that is where a failure shows.
          while (sizes[name] > MAX_OUTPUT_BYTES && out[name].length > 1) sizes[name] -= out[name].shift()!.length;
        });
      }
      let timedOut = false;
      const timers: NodeJS.Timeout[] = [];
      const later = (ms: number, fn: () => void): void => void timers.push(setTimeout(fn, ms));
      if (timeoutMs !== undefined && timeoutMs > 0) {
        later(timeoutMs, () => {
          timedOut = true;
          const pid = child.pid;
          let killed = 0;
          if (pid !== undefined) for (const c of childPids(pid)) killed += signalDescendants(c, 'SIGKILL');
          later(killed > 0 ? BUILD_CLEANUP_GRACE_MS : 0, () => {
            child.kill('SIGTERM');
            later(10_000, () => child.kill('SIGKILL'));
          });
        });
      }
      child.once('error', (err: NodeJS.ErrnoException) => {
        for (const t of timers) clearTimeout(t);
        reject(err.code === 'ENOENT' ? this.missingError(err) : err);
      });
      child.once('close', (code) => {
        for (const t of timers) clearTimeout(t);
        resolve({
          exitCode: code ?? 1,
          stdout: Buffer.concat(out.stdout).toString('utf8'),
          stderr: Buffer.concat(out.stderr).toString('utf8'),
          timedOut,
        });
      });
    });
  }

  async removeImage(tag: string): Promise<void> {
    const r = await this.exec(['rmi', tag]);
    if (r.exitCode !== 0 && !isNoSuchObject(r.stderr)) {
      throw new AirutError('CONTAINER_FAILED', `cannot remove image ${tag}: ${tailLines(r.stderr, 10)}`);
    }
  }

  /**
   * Images carrying `label` (`key=value` or just `key`). Labels come from `image inspect`, as
   * `images --format` has no labels field in docker.
   */
  async listImages(options: { label: string }): Promise<ImageSummary[]> {
    const r = await this.execOk(
      ['images', '--filter', `label=${options.label}`, '--format', '{{.Repository}}:{{.Tag}}\t{{.ID}}'],
      'listing images',
    );
    const rows = r.stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '')
      .map((l) => {
        const [tag = '', id = ''] = l.split('\t');
        // podman names local images `localhost/<name>`; the tag we built with has no registry part.
        return { tag: tag.replace(/^localhost\//, ''), id };
      });
    const labels = await this.imageLabels([...new Set(rows.map((row) => row.id))]);
    return rows.map((row) => ({ ...row, labels: labels.get(row.id) ?? {} }));
  }

  /** Labels of images by short id. An image removed meanwhile is missing from the map. */
  private async imageLabels(shortIds: readonly string[]): Promise<Map<string, Record<string, string>>> {
    const out = new Map<string, Record<string, string>>();
    if (shortIds.length === 0) return out;
    // Parsed whatever the exit code: a vanished image fails the call but the others still print.
    const r = await this.exec(['image', 'inspect', '--format', '{{.Id}}\t{{json .Config.Labels}}', ...shortIds]);
    for (const line of r.stdout.split('\n')) {
      const [fullId = '', labels = ''] = line.split('\t');
      // docker prints `sha256:<hex>`, podman the bare hex; `images` shows the first 12 hex digits.
      const id = shortIds.find((s) => fullId.replace(/^sha256:/, '').startsWith(s));
      if (id !== undefined) out.set(id, parseImageLabels(labels));
    }
    return out;
  }

  /** All containers (running or not) carrying `label` (`key=value` or just `key`), with their labels. */
  async listContainers(options: { label: string }): Promise<ContainerSummary[]> {
    return this.kind === 'podman' ? this.listPodmanContainers(options.label) : this.listDockerContainers(options.label);
  }

  /**
   * podman's `ps` prints everything at once as JSON, from its own database. `container inspect` is not
   * used: it also reads the storage, and a container whose storage went while its record stayed (a
   * `podman rm` killed half-way leaves one, shown as `removing`) fails the whole call, hiding every
   * other container. Listed, such a leftover is removed like any other (`rm -f` ends it).
   */
  private async listPodmanContainers(label: string): Promise<ContainerSummary[]> {
    const ps = await this.execOk(['ps', '-a', '--filter', `label=${label}`, '--format', 'json'], 'listing containers');
    return parsePodmanPs(ps.stdout);
  }

  /** Docker's `ps` templates print labels as one `k=v,k=v` string, so they are read with `inspect`. */
  private async listDockerContainers(label: string): Promise<ContainerSummary[]> {
    const ps = await this.execOk(
      ['ps', '-a', '--filter', `label=${label}`, '--format', '{{.Names}}'],
      'listing containers',
    );
    const names = ps.stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '');
    if (names.length === 0) return [];
    // A container removed between `ps` and `inspect` makes inspect exit non-zero but still print
    // the others, so the output is parsed whatever the exit code.
    const inspect = await this.exec([
      'container',
      'inspect',
      '--format',
      '{{.Name}}\t{{.State.Status}}\t{{json .Config.Labels}}\t{{.Id}}',
      ...names,
    ]);
    const found: ContainerSummary[] = [];
    for (const line of inspect.stdout.split('\n')) {
      const [rawName, state, labelsJson, id = ''] = line.split('\t');
      if (!rawName || state === undefined || labelsJson === undefined) continue;
      let labels: Record<string, string> = {};
      try {
        labels = (JSON.parse(labelsJson) as Record<string, string> | null) ?? {};
      } catch {
        labels = {};
      }
      // docker reports `/name`, podman `name`.
      found.push({ id, name: rawName.replace(/^\//, ''), state, labels });
    }
    return found;
  }

  /**
   * `run` flags putting `labels` on a container. podman also gets them as OCI annotations, which runc
   * records in its state: the one place that still names the owner of a half-started container
   * podman no longer lists (see runtime-helpers.ts). Docker 20.10 has no `run --annotation`.
   */
  labelArgs(labels: Readonly<Record<string, string>>): string[] {
    const args: string[] = [];
    for (const [k, v] of Object.entries(labels)) {
      args.push('--label', `${k}=${v}`);
      if (this.kind === 'podman') args.push('--annotation', `${k}=${v}`);
    }
    return args;
  }

  /** Full ids of every container the runtime lists, whoever made it. */
  async listContainerIds(): Promise<Set<string>> {
    const r = await this.execOk(['ps', '-a', '-q', '--no-trunc'], 'listing containers');
    return new Set(r.stdout.split('\n').map((l) => l.trim()).filter((l) => l !== ''));
  }

  /** True when a container of that name exists (running or not). */
  async containerExists(name: string): Promise<boolean> {
    const r = await this.exec(['container', 'inspect', '--format', '{{.Id}}', name]);
    if (r.exitCode === 0) return true;
    if (isNoSuchObject(r.stderr)) return false;
    throw new AirutError('CONTAINER_FAILED', `cannot inspect container ${name}: ${tailLines(r.stderr, 10)}`);
  }

  /** Stops a container, giving it `graceSeconds` after SIGTERM before SIGKILL. A missing one is fine. */
  async stopContainer(name: string, graceSeconds: number): Promise<void> {
    const r = await this.exec(['stop', '-t', String(Math.max(0, Math.round(graceSeconds))), name], {
      timeoutMs: (graceSeconds + 60) * 1000,
    });
    if (r.exitCode !== 0 && !isNoSuchObject(r.stderr)) {
      throw new AirutError('CONTAINER_FAILED', `cannot stop container ${name}: ${tailLines(r.stderr, 10)}`);
    }
  }

  /** Removes a container, killing it if it still runs. A missing one is fine. */
  async removeContainer(name: string): Promise<void> {
    const r = await this.exec(['rm', '-f', name]);
    if (r.exitCode !== 0 && !isNoSuchObject(r.stderr)) {
      throw new AirutError('CONTAINER_FAILED', `cannot remove container ${name}: ${tailLines(r.stderr, 10)}`);
    }
  }
}

function formatSeconds(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 120 && s % 60 === 0 ? `${s / 60} minutes` : `${s} s`;
}
