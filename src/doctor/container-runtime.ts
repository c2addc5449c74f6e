/**
 * The container runtime, as the daemon will use it: installed, answering, and set up so that a
 * task container can start with its limits. Reads `podman info --format json` (or `docker info`),
 * whose facts are judged by pure functions so that every combination can be tested without
 * owning such a machine.
 */
import { existsSync } from 'node:fs';
import { AirutError } from '../errors.ts';
import { ContainerRuntime, runtimeKind, tailLines } from '../sandbox/container-runtime.ts';
import { printable } from '../email/text.ts';
import { podmanAdvisoriesFor } from './podman-advisories.ts';
import { fail, ok, seconds, warn, type CheckContext, type CheckResult, type DoctorCheck } from './types.ts';

/** The parts of `podman info --format json` that the daemon depends on. */
export interface PodmanInfo {
  readonly host?: {
    readonly cgroupManager?: string;
    readonly cgroupVersion?: string;
    readonly cgroupControllers?: readonly string[] | null;
    readonly ociRuntime?: { readonly name?: string; readonly version?: string };
    readonly networkBackend?: string;
    readonly idMappings?: {
      readonly uidmap?: ReadonlyArray<{ readonly container_id: number; readonly host_id: number; readonly size: number }> | null;
    };
    readonly security?: { readonly rootless?: boolean };
  };
  readonly version?: { readonly Version?: string };
}

/** Facts about this machine that `podman info` does not report. */
export interface HostFacts {
  /** systemd is the init system (`/run/systemd/system` exists). */
  readonly systemdRunning: boolean;
  /** A cgroup v1 machine that also mounts the v2 hierarchy (`/sys/fs/cgroup/unified`). */
  readonly hybridCgroups: boolean;
  /** For rootless podman with the systemd cgroup manager: a user D-Bus session is reachable. */
  readonly userBusAvailable: boolean;
}

const CONF = 'containers.conf (/etc/containers/containers.conf, a drop-in in /etc/containers/containers.conf.d/, or the file CONTAINERS_CONF names)';
/** What `run-agent` asks for on every task container. */
const LIMIT_CONTROLLERS = ['memory', 'pids', 'cpu'] as const;

export function assessPodmanInfo(info: PodmanInfo, facts: HostFacts): CheckResult[] {
  const rows: CheckResult[] = [];
  const host = info.host ?? {};
  const version = info.version?.Version ?? 'unknown';
  const rootless = host.security?.rootless === true;
  const major = Number.parseInt(version, 10);
  const mode = rootless ? 'rootless' : 'rootful';

  if (Number.isFinite(major) && major < 4) {
    rows.push(warn('podman', `version ${version}, ${mode}`, 'airut-ts is tested with podman 4.3 and later; upgrade podman if containers or networks misbehave'));
  } else if (rootless) {
    const uidmap = host.idMappings?.uidmap ?? [];
    const ids = uidmap.reduce((n, m) => n + m.size, 0);
    if (ids <= 1) {
      rows.push(
        fail(
          'podman',
          `version ${version}, rootless without subordinate user ids`,
          'give the daemon\'s user a range in /etc/subuid and /etc/subgid (usermod --add-subuids 100000-165535 --add-subgids 100000-165535 USER), then run `podman system migrate` as that user; without it images with files owned by other users cannot be unpacked',
        ),
      );
    } else rows.push(ok('podman', `version ${version}, rootless (${ids} user ids mapped)`));
  } else rows.push(ok('podman', `version ${version}, rootful`));
  rows.push(...assessPodmanAdvisories(version));

  const cgroupVersion = host.cgroupVersion ?? 'unknown';
  const manager = host.cgroupManager ?? 'unknown';
  const runtime = host.ociRuntime?.name ?? 'unknown';
  const detail = `cgroup ${cgroupVersion}${facts.hybridCgroups ? ' (hybrid)' : ''}, manager ${manager}, runtime ${runtime}, network ${host.networkBackend ?? 'unknown'}`;
  const problems: CheckResult[] = [];
  if (manager === 'systemd' && !facts.systemdRunning) {
    problems.push(fail('podman cgroups', detail, `systemd is not running on this machine, so podman cannot use it to manage cgroups: set cgroup_manager = "cgroupfs" under [engine] in ${CONF}`));
  } else if (manager === 'systemd' && rootless && !facts.userBusAvailable) {
    problems.push(
      fail(
        'podman cgroups',
        detail,
        `rootless podman with the systemd cgroup manager needs the user's systemd session: enable it with \`loginctl enable-linger USER\` and set XDG_RUNTIME_DIR=/run/user/UID for the daemon, or set cgroup_manager = "cgroupfs" under [engine] in ${CONF}`,
      ),
    );
  }
  if (runtime === 'crun' && cgroupVersion === 'v1' && facts.hybridCgroups) {
    problems.push(warn('podman cgroups', detail, `crun fails to start containers on hybrid cgroup hosts like this one: install runc and set runtime = "runc" under [engine] in ${CONF}`));
  }
  if (rootless && cgroupVersion === 'v1') {
    problems.push(
      warn(
        'podman cgroups',
        detail,
        'rootless podman cannot set memory, CPU and process limits on cgroup v1, so task containers run without them: run the daemon as root, or boot with cgroup v2 (systemd.unified_cgroup_hierarchy=1)',
      ),
    );
  } else if (rootless && cgroupVersion === 'v2') {
    const have = new Set(host.cgroupControllers ?? []);
    const missing = LIMIT_CONTROLLERS.filter((c) => !have.has(c));
    if (missing.length > 0) {
      problems.push(
        warn(
          'podman cgroups',
          `${detail}; controllers delegated to this user: ${[...have].join(', ') || 'none'}`,
          `task containers need the ${missing.join(', ')} controller(s) for their limits: delegate them with a drop-in /etc/systemd/system/user@.service.d/delegate.conf holding "[Service]" and "Delegate=cpu cpuset io memory pids", then log in again`,
        ),
      );
    }
  }
  rows.push(...(problems.length ? problems : [ok('podman cgroups', detail)]));
  return rows;
}

/** A warning naming each known image-build advisory this podman version predates. */
function assessPodmanAdvisories(version: string): CheckResult[] {
  const advisories = podmanAdvisoriesFor(version);
  if (advisories.length === 0) return [];
  const list = advisories.map((a) => `${a.id} (fixed in ${a.fixedIn.join(' and ')})`).join(', ');
  return [
    warn(
      'podman security',
      `version ${version} predates the fixes for ${list}`,
      'a repository\'s .airut/container/Dockerfile can read files of this host while its image builds (RUN --mount); upgrade podman, or confirm that your distribution backported these fixes (its package changelog names the CVEs), and until then let only people you trust merge changes to .airut/container/',
    ),
  ];
}

/** The parts of `docker info --format '{{json .}}'` the doctor reads. */
export interface DockerInfo {
  readonly ServerVersion?: string;
  readonly CgroupDriver?: string;
  readonly CgroupVersion?: string;
  readonly DefaultRuntime?: string;
  readonly SecurityOptions?: readonly string[] | null;
  /** Whether the kernel lets dockerd apply `--memory`, `--pids-limit` and `--cpus`. */
  readonly MemoryLimit?: boolean;
  readonly PidsLimit?: boolean;
  readonly CpuCfsQuota?: boolean;
}

export function assessDockerInfo(info: DockerInfo): CheckResult[] {
  const rootless = (info.SecurityOptions ?? []).some((o) => /name=rootless/.test(o));
  const rows = [
    ok(
      'docker',
      `version ${info.ServerVersion ?? 'unknown'}, ${rootless ? 'rootless' : 'rootful'}, cgroup ${info.CgroupVersion ?? '?'} (${info.CgroupDriver ?? '?'}), runtime ${info.DefaultRuntime ?? '?'}`,
    ),
  ];
  // Reported as false when the cgroup controller is missing; dockerd then ignores the limit with a warning.
  const missing = (['MemoryLimit', 'PidsLimit', 'CpuCfsQuota'] as const).filter((k) => info[k] === false);
  if (missing.length > 0) {
    rows.push(
      warn(
        'docker limits',
        `dockerd cannot apply ${missing.map((k) => ({ MemoryLimit: 'memory', PidsLimit: 'pids', CpuCfsQuota: 'cpu' })[k]).join(', ')} limits`,
        'task containers would run without those limits: enable the cgroup controllers (memory, pids, cpu) for dockerd, or use podman',
      ),
    );
  }
  return rows;
}

function hostFacts(env: NodeJS.ProcessEnv): HostFacts {
  const uid = process.getuid?.() ?? 0;
  const runtimeDir = env.XDG_RUNTIME_DIR ?? `/run/user/${uid}`;
  return {
    systemdRunning: existsSync('/run/systemd/system'),
    hybridCgroups: existsSync('/sys/fs/cgroup/unified'),
    userBusAvailable: Boolean(env.DBUS_SESSION_BUS_ADDRESS) || existsSync(`${runtimeDir}/bus`),
  };
}

export async function checkContainerRuntime(command: string, ctx: CheckContext, env: NodeJS.ProcessEnv = process.env): Promise<CheckResult[]> {
  const runtime = new ContainerRuntime({ command });
  const name = runtime.kind;
  const args = name === 'docker' ? ['info', '--format', '{{json .}}'] : ['info', '--format', 'json'];
  let r;
  try {
    r = await runtime.exec(args, { timeoutMs: ctx.timeoutMs });
  } catch (err) {
    if (err instanceof AirutError && err.code === 'CONTAINER_RUNTIME_MISSING') {
      const install = name === 'docker' ? 'apt-get install docker.io, then start dockerd' : 'apt-get install podman runc';
      return [fail(name, `"${command}" was not found on PATH`, `install ${name} (${install}), or set container_command`)];
    }
    if (err instanceof AirutError && err.code === 'CONTAINER_FAILED') {
      return [fail(name, `${command} info gave no answer within ${seconds(ctx.timeoutMs)}`, `run \`${command} info\` by hand to see what it waits for (a stuck storage lock, a dead podman service)`)];
    }
    throw err;
  }
  if (r.exitCode !== 0) {
    const said = printable(tailLines(r.stderr || r.stdout, 3), 300);
    const fix =
      name === 'docker' && /Cannot connect to the Docker daemon|permission denied/i.test(said)
        ? 'start the Docker daemon, and add the daemon\'s user to the docker group (or use rootless Docker)'
        : `run \`${command} info\` as the user that runs the daemon and fix what it reports (docs/troubleshooting.md, "Tasks fail in the container runtime")`;
    return [fail(name, `${command} info failed: ${said}`, fix)];
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.stdout);
  } catch {
    return [fail(name, `${command} info printed something that is not JSON`, `run \`${command} info --format json\` by hand; a wrapper script may be printing extra text`)];
  }
  const rows = name === 'docker' ? assessDockerInfo(parsed as DockerInfo) : assessPodmanInfo(parsed as PodmanInfo, hostFacts(env));
  // podman (and dockerd, as `WARNING:` lines) print their own diagnosis of a bad setup; it is worth reading.
  const warnings = r.stderr
    .split('\n')
    .filter((l) => /level=warn|WARN\[|^WARNING:/i.test(l))
    .map((l) => printable(l.replace(/^.*?(msg=|WARN\[\d+\]\s*|WARNING:\s*)/, ''), 200));
  if (warnings.length > 0) {
    rows.push(warn(`${name} warnings`, warnings.join('; '), `${name} itself reports these: fix them in ${CONF} or the host setup`));
  }
  return rows;
}

export function containerRuntimeCheck(command: string): DoctorCheck {
  return {
    name: runtimeKind(command),
    timeoutFix: `run \`${command} info\` by hand to see what it waits for`,
    run: (ctx) => checkContainerRuntime(command, ctx),
  };
}
