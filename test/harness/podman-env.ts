/**
 * Makes podman usable in tests on CI machines whose system configuration does not fit them.
 *
 * On these machines (Debian 12, cgroup v1/hybrid) podman needs `cgroup_manager = "cgroupfs"`,
 * `runtime = "runc"` (crun fails on the hybrid hierarchy) and default ulimits below the hard limit
 * (podman's defaults exceed it: "error setting rlimit type 7"). When /etc/containers/containers.conf
 * already says so, nothing changes; otherwise a containers.conf is written under the temp dir and
 * `CONTAINERS_CONF` points at it for this process and every runtime call it makes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContainerRuntime } from '../../src/sandbox/container-runtime.ts';

export const TEST_CONTAINERS_CONF = `[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
`;

function systemConfigFits(): boolean {
  let text: string;
  try {
    text = readFileSync('/etc/containers/containers.conf', 'utf8');
  } catch {
    return false;
  }
  return (
    /^\s*cgroup_manager\s*=\s*"cgroupfs"/m.test(text) &&
    /^\s*runtime\s*=\s*"runc"/m.test(text) &&
    /^\s*default_ulimits\s*=/m.test(text)
  );
}

/** The extra environment podman needs here (possibly none). Sets `process.env.CONTAINERS_CONF` too. */
export function podmanTestEnv(): Record<string, string> {
  if (process.env.CONTAINERS_CONF) return { CONTAINERS_CONF: process.env.CONTAINERS_CONF };
  if (systemConfigFits()) return {};
  const path = join(tmpdir(), 'airut-test-containers.conf');
  writeFileSync(path, TEST_CONTAINERS_CONF);
  process.env.CONTAINERS_CONF = path;
  return { CONTAINERS_CONF: path };
}

/** A podman runtime configured for tests (`AIRUT_TEST_CONTAINER_COMMAND` picks another CLI). */
export function testRuntime(): ContainerRuntime {
  return new ContainerRuntime({ command: process.env.AIRUT_TEST_CONTAINER_COMMAND ?? 'podman', env: podmanTestEnv() });
}
