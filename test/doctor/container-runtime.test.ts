/** The container-runtime check: judged from `podman info` facts (a table of machines), and once for real. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assessDockerInfo, assessPodmanInfo, checkContainerRuntime, type HostFacts, type PodmanInfo } from '../../src/doctor/container-runtime.ts';
import { podmanAdvisoriesFor } from '../../src/doctor/podman-advisories.ts';
import { podmanTestEnv } from '../harness/podman-env.ts';
import { runtimeCases } from '../harness/runtimes.ts';

const SYSTEMD_HOST: HostFacts = { systemdRunning: true, hybridCgroups: false, userBusAvailable: true };

function info(over: {
  version?: string;
  rootless?: boolean;
  manager?: string;
  cgroup?: string;
  runtime?: string;
  controllers?: string[];
  uidmap?: Array<{ container_id: number; host_id: number; size: number }> | null;
}): PodmanInfo {
  return {
    version: { Version: over.version ?? '5.2.5' },
    host: {
      cgroupManager: over.manager ?? 'systemd',
      cgroupVersion: over.cgroup ?? 'v2',
      cgroupControllers: over.controllers ?? ['cpu', 'memory', 'pids', 'io'],
      ociRuntime: { name: over.runtime ?? 'crun' },
      networkBackend: 'netavark',
      idMappings: { uidmap: over.uidmap === undefined ? null : over.uidmap },
      security: { rootless: over.rootless ?? false },
    },
  };
}

const SUBUIDS = [
  { container_id: 0, host_id: 1000, size: 1 },
  { container_id: 1, host_id: 100000, size: 65536 },
];

test('a rootful podman on a systemd cgroup v2 host is fine', () => {
  const rows = assessPodmanInfo(info({}), SYSTEMD_HOST);
  assert.deepEqual(rows.map((r) => [r.check, r.status]), [['podman', 'ok'], ['podman cgroups', 'ok']]);
  assert.match(rows[0]!.detail, /5\.2\.5, rootful/);
  assert.match(rows[1]!.detail, /cgroup v2, manager systemd, runtime crun/);
});

test('the systemd cgroup manager without systemd fails and names the setting that fixes it', () => {
  const rows = assessPodmanInfo(info({ manager: 'systemd' }), { systemdRunning: false, hybridCgroups: false, userBusAvailable: false });
  const cg = rows.find((r) => r.check === 'podman cgroups')!;
  assert.equal(cg.status, 'FAIL');
  assert.match(cg.fix, /cgroup_manager = "cgroupfs"/);
  assert.match(cg.fix, /containers\.conf/);
});

test('crun on a hybrid cgroup v1 host is a warning that points to runc', () => {
  const rows = assessPodmanInfo(info({ manager: 'cgroupfs', cgroup: 'v1', runtime: 'crun' }), { systemdRunning: false, hybridCgroups: true, userBusAvailable: false });
  const cg = rows.find((r) => r.check === 'podman cgroups')!;
  assert.equal(cg.status, 'warn');
  assert.match(cg.fix, /runtime = "runc"/);
  assert.match(cg.detail, /\(hybrid\)/);
});

test('runc with cgroupfs on a hybrid host (the CI machines) is fine', () => {
  const rows = assessPodmanInfo(info({ manager: 'cgroupfs', cgroup: 'v1', runtime: 'runc' }), { systemdRunning: false, hybridCgroups: true, userBusAvailable: false });
  assert.ok(rows.every((r) => r.status === 'ok'), JSON.stringify(rows));
});

test('rootless podman: subordinate ids, cgroup v1 limits, delegated controllers, the user session', () => {
  const noSubuids = assessPodmanInfo(info({ rootless: true, uidmap: [{ container_id: 0, host_id: 1000, size: 1 }] }), SYSTEMD_HOST);
  assert.equal(noSubuids[0]!.status, 'FAIL');
  assert.match(noSubuids[0]!.fix, /\/etc\/subuid/);

  const v1 = assessPodmanInfo(info({ rootless: true, uidmap: SUBUIDS, cgroup: 'v1', manager: 'cgroupfs', runtime: 'runc' }), SYSTEMD_HOST);
  assert.equal(v1[0]!.status, 'ok');
  assert.match(v1[0]!.detail, /rootless \(65537 user ids mapped\)/);
  const v1cg = v1.find((r) => r.check === 'podman cgroups')!;
  assert.equal(v1cg.status, 'warn');
  assert.match(v1cg.fix, /cgroup v2/);

  const undelegated = assessPodmanInfo(info({ rootless: true, uidmap: SUBUIDS, controllers: ['memory', 'pids'] }), SYSTEMD_HOST);
  const ucg = undelegated.find((r) => r.check === 'podman cgroups')!;
  assert.equal(ucg.status, 'warn');
  assert.match(ucg.fix, /cpu controller/);
  assert.match(ucg.fix, /Delegate=/);

  const noBus = assessPodmanInfo(info({ rootless: true, uidmap: SUBUIDS }), { systemdRunning: true, hybridCgroups: false, userBusAvailable: false });
  const ncg = noBus.find((r) => r.check === 'podman cgroups')!;
  assert.equal(ncg.status, 'FAIL');
  assert.match(ncg.fix, /enable-linger/);
});

test('an old podman is a warning', () => {
  const rows = assessPodmanInfo(info({ version: '3.4.4' }), SYSTEMD_HOST);
  assert.equal(rows[0]!.status, 'warn');
  assert.match(rows[0]!.fix, /4\.3/);
});

test('a podman that predates the image-build fixes (CVE-2024-1753 and later) is a security warning naming them', () => {
  const debian12 = assessPodmanInfo(info({ version: '4.3.1' }), SYSTEMD_HOST);
  const sec = debian12.find((r) => r.check === 'podman security')!;
  assert.equal(sec.status, 'warn');
  assert.match(sec.detail, /4\.3\.1 predates the fixes for CVE-2024-1753 \(fixed in 4\.9\.4 and 5\.0\.1\), CVE-2024-9407 \(fixed in 5\.2\.4\), CVE-2024-9675/);
  assert.match(sec.fix, /RUN --mount/);
  assert.equal(debian12.find((r) => r.check === 'podman')!.status, 'ok', 'the version row itself stays ok');
});

test('podman advisories: each release line is judged by its own fix', () => {
  const ids = (v: string) => podmanAdvisoriesFor(v).map((a) => a.id);
  assert.deepEqual(ids('4.9.3'), ['CVE-2024-1753', 'CVE-2024-9407', 'CVE-2024-9675']);
  assert.deepEqual(ids('4.9.4'), ['CVE-2024-9407', 'CVE-2024-9675'], '4.9.4 fixed 1753; the 5.2 fixes never reached 4.x');
  assert.deepEqual(ids('5.0.0'), ['CVE-2024-1753', 'CVE-2024-9407', 'CVE-2024-9675']);
  assert.deepEqual(ids('5.0.1'), ['CVE-2024-9407', 'CVE-2024-9675']);
  assert.deepEqual(ids('5.2.4'), ['CVE-2024-9675']);
  assert.deepEqual(ids('5.2.5'), []);
  assert.deepEqual(ids('v5.4.0-rc1'), []);
  assert.deepEqual(ids('3.4.4'), ['CVE-2024-1753', 'CVE-2024-9407', 'CVE-2024-9675']);
  assert.deepEqual(ids('unknown'), [], 'no version, nothing to claim');
  assert.equal(assessPodmanInfo(info({ version: '5.3.1' }), SYSTEMD_HOST).some((r) => r.check === 'podman security'), false);
});

test('docker: version and mode are reported', () => {
  const rows = assessDockerInfo({ ServerVersion: '24.0.7', CgroupDriver: 'systemd', CgroupVersion: '2', DefaultRuntime: 'runc', SecurityOptions: ['name=seccomp,profile=builtin', 'name=rootless'] });
  assert.equal(rows[0]!.status, 'ok');
  assert.match(rows[0]!.detail, /24\.0\.7, rootless/);
});

test('docker: limits the kernel does not let dockerd apply are a warning', () => {
  const rows = assessDockerInfo({ ServerVersion: '20.10.24', MemoryLimit: true, PidsLimit: false, CpuCfsQuota: false });
  const limits = rows.find((r) => r.check === 'docker limits')!;
  assert.equal(limits.status, 'warn');
  assert.match(limits.detail, /pids, cpu/);
  assert.equal(assessDockerInfo({ ServerVersion: '20.10.24', MemoryLimit: true, PidsLimit: true, CpuCfsQuota: true }).length, 1);
});

const docker = runtimeCases().find((c) => c.command === 'docker');
test('the real docker on this machine answers; a missing docker is a FAIL that says how to install it', { skip: docker?.skip ?? 'AIRUT_TEST_RUNTIMES leaves docker out' }, async () => {
  const ctx = { timeoutMs: 30_000, signal: new AbortController().signal };
  const rows = await checkContainerRuntime('docker', ctx);
  const row = rows.find((r) => r.check === 'docker')!;
  assert.equal(row.status, 'ok', JSON.stringify(rows));
  assert.match(row.detail, /^version \d+\.\d+/);
  assert.ok(!rows.some((r) => r.status === 'FAIL'), JSON.stringify(rows));

  const missing = await checkContainerRuntime('/nonexistent/docker', ctx);
  assert.equal(missing.length, 1);
  assert.equal(missing[0]!.status, 'FAIL');
  assert.match(missing[0]!.fix, /install docker \(apt-get install docker\.io/);
});

test('the real podman on this machine answers, and a missing runtime is a FAIL with an install hint', async () => {
  podmanTestEnv();
  const ctx = { timeoutMs: 30_000, signal: new AbortController().signal };
  const rows = await checkContainerRuntime('podman', ctx);
  const podman = rows.find((r) => r.check === 'podman')!;
  assert.notEqual(podman.status, 'FAIL', JSON.stringify(rows));
  assert.match(podman.detail, /^version \d+\.\d+/);

  const missing = await checkContainerRuntime('/nonexistent/podman', ctx);
  assert.equal(missing.length, 1);
  assert.equal(missing[0]!.status, 'FAIL');
  assert.match(missing[0]!.fix, /install podman/);
});
