/**
 * pod-entry.sh for real: the tools image built from writeToolsContext (the host's static busybox and
 * a fake claude), its `fetch` run as the init container and `run` as the agent container with
 * podman, against a real PodGateway — as a pod would, with the emptyDirs as host directories. The
 * state must arrive, claude must get its arguments and prompt, and what it wrote must come back
 * into the host dirs.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { gatewayTaskPaths, PodGateway, writeGatewayToken } from '../../../src/sandbox/kubernetes/pod-gateway.ts';
import { packStateIn, unpackStateOut } from '../../../src/sandbox/kubernetes/state-bundle.ts';
import { writeToolsContext } from '../../../src/sandbox/kubernetes/tools-image.ts';
import { captureLog } from '../../harness/capture-log.ts';
import { podmanTestEnv } from '../../harness/podman-env.ts';
import { exitTempDir } from '../../harness/temp-dirs.ts';

const run = promisify(execFile);
const BUSYBOX = '/usr/bin/busybox';

async function podmanMissing(): Promise<string | false> {
  try {
    await run('podman', ['--version']);
  } catch {
    return 'podman is not installed';
  }
  const file = await run('file', ['-L', BUSYBOX]).catch(() => ({ stdout: '' }));
  return /statically linked/.test(file.stdout) ? false : `${BUSYBOX} is missing or not statically linked (install busybox-static)`;
}

const FAKE_CLAUDE = `#!/airut/busybox sh
# Stands in for Claude Code: echoes the prompt line, records its arguments, writes into the workspace.
IFS= read -r prompt
echo '{"type":"system","subtype":"init"}'
echo "{\\"type\\":\\"result\\",\\"prompt_bytes\\":\${#prompt}}"
for a in "$@"; do echo "[$a]"; done >/workspace/made-by-claude.txt
echo "$prompt" >/root/.claude/last-prompt
echo 'to send' >/outbox/reply.txt
echo 'a warning' >&2
exit 3
`;

describe('pod-entry.sh in podman', async () => {
  const skip = await podmanMissing();
  const env = { ...process.env, ...podmanTestEnv() };
  const tag = `localhost/airut-test-tools:${randomBytes(4).toString('hex')}`;
  after(async () => {
    await run('podman', ['rmi', '-f', tag], { env }).catch(() => undefined);
  });

  it('fetches the state, runs claude with its arguments, and returns what it wrote', { skip }, async () => {
    const root = exitTempDir('airut-pod-entry-');
    const stateDir = path.join(root, 'state');
    const conv = path.join(root, 'conv');
    const dirs = {
      workspace: path.join(conv, 'workspace'),
      claudeState: path.join(conv, 'claude'),
      inbox: path.join(conv, 'inbox'),
      outbox: path.join(conv, 'outbox'),
      storage: path.join(conv, 'storage'),
    };
    for (const d of Object.values(dirs)) await fs.mkdir(d, { recursive: true });
    await fs.writeFile(path.join(dirs.workspace, 'README.md'), 'original\n');
    await fs.writeFile(path.join(dirs.inbox, 'attachment.txt'), 'from the mail\n');

    const fakeClaude = path.join(root, 'fake-claude');
    await fs.writeFile(fakeClaude, FAKE_CLAUDE, { mode: 0o755 });
    const ctx = await writeToolsContext(path.join(root, 'tools-context'), { busyboxPath: BUSYBOX, claudeBinaryPath: fakeClaude });
    await run('podman', ['build', '-q', '-t', tag, '-f', path.join(ctx, 'Containerfile'), ctx], { env });

    const token = await writeGatewayToken(stateDir, 7);
    const prompt = '{"type":"user","message":{"role":"user","content":"hi"}}';
    await packStateIn(dirs, { inputJsonl: `${prompt}\n`, args: ['--model', 'opus', 'two words', '--x=$HOME "q"'] }, gatewayTaskPaths(stateDir, 7).stateIn);
    const { log } = captureLog();
    const gw = await PodGateway.start({ host: '127.0.0.1', port: 0, stateDir, maxStateBytes: 64 * 1024 * 1024, log });
    try {
      const tools = path.join(root, 'pod', 'tools');
      const state = path.join(root, 'pod', 'state');
      await fs.mkdir(tools, { recursive: true });
      await fs.mkdir(state, { recursive: true });
      const podEnv = ['-e', `AIRUT_GATEWAY=127.0.0.1:${gw.port}`, '-e', 'AIRUT_TASK=7', '-e', `AIRUT_GATEWAY_TOKEN=${token}`, '-e', 'HTTP_PROXY=http://127.0.0.1:1'];
      const base = ['run', '--rm', '--network', 'host', ...podEnv];
      await run('podman', [...base, '-v', `${tools}:/tools`, '-v', `${state}:/airut-state`, tag, '/airut/busybox', 'sh', '/airut/pod-entry.sh', 'fetch'], { env });
      assert.equal(await fs.readFile(path.join(state, 'inbox', 'attachment.txt'), 'utf8'), 'from the mail\n');
      await assert.rejects(fs.stat(path.join(state, '.in.tar')), { code: 'ENOENT' });

      const mounts = ['workspace:/workspace', 'claude:/root/.claude', 'inbox:/inbox', 'outbox:/outbox', 'storage:/storage'].flatMap((m) => ['-v', `${state}/${m}`]);
      const agent = await run('podman', [...base, '-v', `${tools}:/airut`, '-v', `${state}:/airut-state`, ...mounts, tag, '/airut/busybox', 'sh', '/airut/pod-entry.sh', 'run'], { env }).then(
        () => assert.fail('the pod must exit with claude’s code'),
        (err: { code: number; stdout: string }) => err,
      );
      assert.equal(agent.code, 3);
      // A failed run's stderr tail follows its stream-json, where the backend keeps non-JSON lines for the error.
      assert.deepEqual(agent.stdout.trim().split('\n'), ['{"type":"system","subtype":"init"}', `{"type":"result","prompt_bytes":${prompt.length}}`, 'a warning']);
      assert.equal(await fs.readFile(path.join(state, 'airut', 'stderr.log'), 'utf8'), 'a warning\n');
    } finally {
      await gw.close();
    }

    await unpackStateOut(gatewayTaskPaths(stateDir, 7).stateOut, dirs, { maxFileBytes: 1 << 20, maxTotalBytes: 1 << 24, maxEntries: 1000 });
    assert.equal(
      await fs.readFile(path.join(dirs.workspace, 'made-by-claude.txt'), 'utf8'), 
      '[-p]\n[--output-format]\n[stream-json]\n[--verbose]\n[--input-format]\n[stream-json]\n[--replay-user-messages]\n[--model]\n[opus]\n[two words]\n[--x=$HOME "q"]\n',
    );
    assert.equal(await fs.readFile(path.join(dirs.workspace, 'README.md'), 'utf8'), 'original\n');
    assert.equal(await fs.readFile(path.join(dirs.claudeState, 'last-prompt'), 'utf8'), `${prompt}\n`);
    assert.equal(await fs.readFile(path.join(dirs.outbox, 'reply.txt'), 'utf8'), 'to send\n');
  });
});
