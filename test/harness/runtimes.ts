/**
 * The container runtimes the sandbox and task tests run against: podman always, Docker when its
 * daemon answers. A test file registers its suite once per case (`for (const rt of runtimeCases())`),
 * so one run covers both CLIs.
 *
 * Without a Docker daemon the Docker cases are skipped with a visible reason, so a developer machine
 * with podman only still runs the rest. CI sets `AIRUT_TEST_REQUIRE_DOCKER=1` (scripts/ci-setup.sh
 * starts dockerd; .ci/run exports it): there a missing Docker fails the test file instead of being
 * skipped. `AIRUT_TEST_RUNTIMES=podman` (or `docker`) limits a local run to one runtime.
 */
import { execFileSync } from 'node:child_process';
import { ContainerRuntime, runtimeEnv } from '../../src/sandbox/container-runtime.ts';
import { podmanTestEnv } from './podman-env.ts';

export type RuntimeCommand = 'podman' | 'docker';

export interface RuntimeCase {
  readonly command: RuntimeCommand;
  /** Environment for the CLI, and for a daemon under test (`CONTAINERS_CONF` for podman). */
  readonly env: Record<string, string>;
  /** False to run; otherwise why this runtime's tests are skipped (shown in the test report). */
  readonly skip: string | false;
  runtime(): ContainerRuntime;
  /** The CLI's stdout for `args`, trimmed (synchronous, for polling helpers). */
  cli(args: readonly string[]): string;
}

let cached: RuntimeCase[] | null = null;

/** Why Docker cannot be used here, or null when `docker info` answers. */
function dockerUnavailable(): string | null {
  try {
    execFileSync('docker', ['info', '--format', '{{.ServerVersion}}'], { env: runtimeEnv(), stdio: ['ignore', 'pipe', 'pipe'], timeout: 15_000 });
    return null;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    const why = e.code === 'ENOENT' ? 'the docker CLI is not installed' : (e.stderr?.toString().trim().split('\n')[0] ?? e.message);
    return `Docker is not available (${why}); scripts/ci-setup.sh installs and starts it`;
  }
}

function makeCase(command: RuntimeCommand, skip: string | false): RuntimeCase {
  const env = command === 'podman' ? podmanTestEnv() : {};
  return {
    command,
    env,
    skip,
    runtime: () => new ContainerRuntime({ command, env }),
    cli: (args) => execFileSync(command, args, { env: { ...process.env, ...env } }).toString().trim(),
  };
}

/** One case per runtime: podman, then Docker (skipped, or failing under AIRUT_TEST_REQUIRE_DOCKER=1). */
export function runtimeCases(): RuntimeCase[] {
  if (cached) return cached;
  const wanted = (process.env.AIRUT_TEST_RUNTIMES ?? 'podman,docker').split(',').map((s) => s.trim());
  const cases: RuntimeCase[] = [];
  if (wanted.includes('podman')) cases.push(makeCase('podman', false));
  if (wanted.includes('docker')) {
    const missing = dockerUnavailable();
    if (missing && process.env.AIRUT_TEST_REQUIRE_DOCKER === '1') {
      throw new Error(`AIRUT_TEST_REQUIRE_DOCKER=1 but ${missing}`);
    }
    cases.push(makeCase('docker', missing ?? false));
  }
  cached = cases;
  return cases;
}
