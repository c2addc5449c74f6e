/** What the reaper reads from a conmon command line and from podman's `ps`, and the per-runtime flags of ContainerRuntime. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ContainerRuntime, parsePodmanPs, runtimeKind } from '../../src/sandbox/container-runtime.ts';
import { parseConmonArgs } from '../../src/sandbox/runtime-helpers.ts';

const ID = '51fe7ebc66b0ca0fbcdf5bf8801bcbc8a47931e31232ef8b822a2ce6307f9c98';

test('a conmon command line names the container id, name, OCI runtime and its state root', () => {
  // As podman 4.3 starts it (shortened), rootful: runc's default root.
  const argv = ['/usr/bin/conmon', '--api-version', '1', '-c', ID, '-u', ID, '-r', '/usr/bin/runc', '-b', `/var/lib/containers/storage/overlay-containers/${ID}/userdata`, '-n', 'airut-task-abc-7', '--exit-dir', '/run/libpod/exits', '--runtime-arg', '--log-format=json'];
  const parsed = parseConmonArgs(argv)!;
  assert.equal(parsed.containerId, ID);
  assert.equal(parsed.name, 'airut-task-abc-7');
  assert.equal(parsed.ociRuntime, '/usr/bin/runc');
  if (process.getuid?.() === 0) assert.equal(parsed.ociRoot, '/run/runc');

  assert.equal(parseConmonArgs([...argv, '--runtime-arg', '--root=/run/user/1000/runc'])!.ociRoot, '/run/user/1000/runc');
  assert.equal(parseConmonArgs([...argv, '--runtime-arg', '--root', '--runtime-arg', '/srv/runc'])!.ociRoot, '/srv/runc');
});

test('a command line without a container id (or with a malformed one) is not a helper', () => {
  assert.equal(parseConmonArgs(['/usr/bin/conmon', '--version']), null);
  assert.equal(parseConmonArgs(['/usr/bin/conmon', '-c', '../../etc', '-n', 'x']), null);
});

test('labels become OCI annotations too with podman only; the kind comes from the CLI name', () => {
  const labels = { 'airut.managed': '1', 'airut.instance': 'abc' };
  assert.deepEqual(new ContainerRuntime({ command: 'podman' }).labelArgs(labels), [
    '--label', 'airut.managed=1', '--annotation', 'airut.managed=1',
    '--label', 'airut.instance=abc', '--annotation', 'airut.instance=abc',
  ]);
  assert.deepEqual(new ContainerRuntime({ command: '/usr/bin/docker' }).labelArgs(labels), ['--label', 'airut.managed=1', '--label', 'airut.instance=abc']);
  assert.equal(runtimeKind('docker'), 'docker');
  assert.equal(runtimeKind('/usr/local/bin/docker'), 'docker');
  assert.equal(runtimeKind('podman'), 'podman');
  assert.equal(new ContainerRuntime({ command: '/tmp/wrapper', kind: 'docker' }).kind, 'docker');
});

test("podman's ps JSON: first name, lower-case state, string labels; a broken entry is skipped, not JSON is an error", () => {
  const ps = JSON.stringify([
    { Id: ID, Names: ['airut-task-abc-7'], State: 'removing', Labels: { 'airut.managed': '1', 'airut.task': '7', odd: 3 } },
    { Id: 'x', Names: ['no-labels'], State: 'Exited', Labels: null },
    { Id: 'y', Names: [], State: 'running' },
  ]);
  assert.deepEqual(parsePodmanPs(ps), [
    { id: ID, name: 'airut-task-abc-7', state: 'removing', labels: { 'airut.managed': '1', 'airut.task': '7' } },
    { id: 'x', name: 'no-labels', state: 'exited', labels: {} },
  ]);
  assert.deepEqual(parsePodmanPs('[]\n'), []);
  assert.deepEqual(parsePodmanPs(''), []);
  assert.throws(() => parsePodmanPs('Error: database is locked'), { code: 'CONTAINER_FAILED', message: /podman ps printed no JSON: Error: database is locked/ });
  assert.throws(() => parsePodmanPs('{}'), { code: 'CONTAINER_FAILED' });
});
