/**
 * Issue 13, items 5 and 6, end to end: the real daemon, real podman, the real Claude Code CLI.
 *
 * 5. `repo_url` carries `user:TOKEN@` for a git smart-HTTP server that refuses anyone without
 *    them. The daemon clones with the token; an agent searching everything it can see (files,
 *    its environment, every process's environment) finds nothing, before and after the workspace
 *    of an "old" conversation held the token in its origin.
 * 6. A repository sets variables the container runtime itself reads. The task runs, the container
 *    sees them, and a `podman` wrapper first on the daemon's PATH records that no runtime call got
 *    them (nor a secret on its command line); the env file is gone afterwards.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startGitHttpServer, type GitHttpServer } from '../harness/git-http-server.ts';
import { repoYaml, startE2eEnv, taskFor, type E2eEnv } from '../harness/e2e-env.ts';

const TOKEN = 'tok-7d41c9e0aa5b';
const CONTROL_SECRET = 'ctl-secret-0b6e95';
/**
 * What the agent runs: `f NEEDLE` lists every file holding NEEDLE (all of `/` but /proc, /sys and
 * /dev), `e NEEDLE` counts it in its environment and in every process's environment and command line.
 * The token is built from two halves, so the command (which Claude Code keeps in its session
 * transcript, under /root/.claude) never holds it. Two controls prove the scan finds what is
 * there: a line of the workspace's .git/config and a secret the container does get (MY_TOKEN).
 * `command grep`, because Claude Code's Bash tool makes `grep` a ripgrep that skips hidden
 * directories such as .git; the process scan's grep reads the needle from a pipe, or its own
 * command line would be a hit. No globs and no square brackets: the Bash tool's shell does not
 * expand globs here, and the scripted agent's marker ends at the first `]`.
 */
const SCAN =
  '[[bash:f() { for d in $(ls /); do case $d in proc|sys|dev) ;; *) command grep -rl "$1" /$d 2>/dev/null;; esac; done; }; ' +
  'e() { echo ENV-HITS:$(env | command grep -c "$1"); ' +
  'echo PROC-HITS:$(for p in $(ls /proc); do cat /proc/$p/environ /proc/$p/cmdline 2>/dev/null; done | tr "\\0" "\\n" | command grep -c -f <(echo "$1")); }; ' +
  `T="tok-7d41c9"'e0aa5b'; echo BEGIN-SCAN; f "$T"; e "$T"; echo END-SCAN; ` +
  'echo BEGIN-CONTROL; e "$MY_TOKEN"; echo END-CONTROL; ' +
  `echo BEGIN-GITCONFIG; command grep -rl "repositoryformat"'version' /workspace; echo END-GITCONFIG]]`;

let env: E2eEnv;
let server: GitHttpServer;
let servedRoot: string;

before(async () => {
  env = await startE2eEnv({ repoIds: ['cred', 'hostile'] });
  servedRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-served-'));
  server = await startGitHttpServer(servedRoot, { user: 'bot', token: TOKEN });
});

after(async () => {
  await server?.close();
  await env?.stop();
});

/** Files under `dir` (links not followed) whose bytes hold `needle`. */
function filesContaining(dir: string, needle: string): string[] {
  const hits: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    if (fs.readFileSync(file).includes(needle)) hits.push(file);
  }
  return hits;
}

/** One scan's verdict from the reply: files listed between its markers, and the two counts. */
function scanResult(text: string, label: string): { files: string[]; envHits: number; procHits: number } {
  const body = new RegExp(`BEGIN-${label}([\\s\\S]*?)END-${label}`).exec(text)?.[1];
  assert.ok(body !== undefined, `the ${label} scan ran:\n${text}`);
  const envHits = Number(/ENV-HITS:(\d+)/.exec(body)?.[1] ?? NaN);
  const procHits = Number(/PROC-HITS:(\d+)/.exec(body)?.[1] ?? NaN);
  const files = body.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('/'));
  return { files, envHits, procHits };
}

/** The token scan found nothing, and the controls show that it would have. */
function assertClean(text: string): void {
  const control = scanResult(text, 'CONTROL');
  assert.ok(control.envHits >= 1 && control.procHits >= 1, `the control secret is found in the environment:\n${text}`);
  assert.ok(scanResult(text, 'GITCONFIG').files.includes('/workspace/.git/config'), `the control file is found:\n${text}`);
  const scan = scanResult(text, 'SCAN');
  assert.deepEqual(scan.files, [], 'no file the container can read holds the token');
  assert.equal(scan.envHits, 0, 'the token is not in the environment');
  assert.equal(scan.procHits, 0, 'the token is in no process environment or command line');
}

test('a token in repo_url clones the repository but never reaches the agent, also in an older workspace (item 5)', async () => {
  const repo = await env.repo('cred', repoYaml(), { secrets: env.cliSecrets({ SECRET_TOKEN: CONTROL_SECRET }) });
  execFileSync('git', ['clone', '--quiet', '--bare', repo.source.dir, path.join(servedRoot, 'cred.git')]);
  const { cfg, daemon } = env.daemonWith([{ ...repo, repoUrl: server.urlWithCredentials('cred.git') }], 1);
  try {
    const m1 = await env.send('cred', 'look around', SCAN);
    const reply = await env.finalReplyTo(m1, 120_000);
    assert.equal(taskFor(cfg, m1)?.status, 'completed', reply.text);
    assert.ok(server.counts.served > 0, 'the daemon cloned through the server');
        assertClean(reply.text ?? '');

    const conversationId = reply.header('x-airut-conversation')!;
    const storage = path.join(cfg.dir, 'storage', 'cred');
    const conv = path.join(storage, 'conversations', conversationId);
    const workspace = path.join(conv, 'workspace');
    assert.equal(execFileSync('git', ['-C', workspace, 'remote', 'get-url', 'origin'], { encoding: 'utf8' }).trim(), server.url('cred.git'));
    assert.deepEqual(filesContaining(conv, TOKEN), [], 'nothing in the conversation directory holds the token');
    assert.deepEqual(filesContaining(path.join(storage, 'git-mirror'), TOKEN), [], 'nor the mirror');

    // A workspace cloned by the code before the fix: origin holds the token.
    execFileSync('git', ['-C', workspace, 'remote', 'set-url', 'origin', server.urlWithCredentials('cred.git')]);
    const m2 = await env.send('cred', `Re: ${reply.subject}`, SCAN, { inReplyTo: reply.messageId!, references: [m1, reply.messageId!] });
    const reply2 = await env.finalReplyTo(m2, 120_000);
    assert.equal(reply2.header('x-airut-conversation'), conversationId);
    assertClean(reply2.text ?? '');
    assert.deepEqual(filesContaining(conv, TOKEN), []);
    assert.ok(!JSON.stringify(daemon.logs).includes(TOKEN) && !daemon.otherOutput.join('\n').includes(TOKEN), 'the token reached the log');
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    await daemon.stop('SIGKILL');
  }
});

test('variables the runtime reads go to the container only; the podman process never sees them (item 6)', async () => {
  const secret = 'runtime-secret-5e2b77';
  const wrapDir = fs.mkdtempSync(path.join(servedRoot, 'wrap-'));
  const dumps = path.join(wrapDir, 'dumps');
  fs.mkdirSync(dumps);
  const real = execFileSync('sh', ['-c', 'command -v podman'], { encoding: 'utf8' }).trim();
  fs.writeFileSync(
    path.join(wrapDir, 'podman'),
    `#!/bin/sh\nn=$$-$(date +%s%N)\nenv > '${dumps}/env-'$n\nfor a in "$@"; do printf '%s\\n' "$a"; done > '${dumps}/argv-'$n\nexec '${real}' "$@"\n`,
    { mode: 0o755 },
  );
  const hostile: Record<string, string> = {
    LISTEN_FDS: '3',
    LISTEN_PID: '1',
    _CONTAINERS_USERNS_CONFIGURED: 'done',
    GOTRACEBACK: 'crash',
    SSL_CERT_DIR: '/nonexistent-certs',
    CONTAINERS_CONF: '/nonexistent',
  };
  const extra = Object.entries(hostile).map(([k, v]) => `  ${k}: "${v}"\n`).join('');
  const repo = await env.repo('hostile', repoYaml({ extra }), { secrets: env.cliSecrets({ SECRET_TOKEN: secret }) });
  const { cfg, daemon } = env.daemonWith([repo], 1, {}, { PATH: `${wrapDir}:${process.env.PATH ?? '/usr/bin:/bin'}` });
  try {
    const m = await env.send('hostile', 'show env', '[[bash:env]]');
    const reply = await env.finalReplyTo(m, 120_000);
    assert.equal(taskFor(cfg, m)?.status, 'completed', reply.text);
    const text = reply.text ?? '';
    for (const [k, v] of Object.entries(hostile)) assert.ok(text.includes(`${k}=${v}`), `${k} inside the container`);
    assert.ok(text.includes(`MY_TOKEN=${secret}`), 'the secret reached the container');

    const calls = fs.readdirSync(dumps);
    assert.ok(calls.some((f) => f.startsWith('argv-') && fs.readFileSync(path.join(dumps, f), 'utf8').startsWith('run\n')), 'the run went through the wrapper');
    for (const f of calls) {
      const dump = fs.readFileSync(path.join(dumps, f), 'utf8');
      if (f.startsWith('env-')) {
        const names = dump.split('\n').map((l) => l.split('=')[0]!);
        for (const name of ['LISTEN_FDS', 'LISTEN_PID', '_CONTAINERS_USERNS_CONFIGURED', 'GOTRACEBACK', 'SSL_CERT_DIR', 'MY_TOKEN', 'ANTHROPIC_API_KEY']) {
          assert.ok(!names.includes(name), `${name} reached the podman process (${f})`);
        }
        assert.ok(!names.some((n) => n.startsWith('TEST_IMAP_PASSWORD')), `the daemon's own secrets reached the podman process (${f})`);
        assert.ok(!dump.includes('/nonexistent') && !dump.includes(secret), `a repository value reached the podman process (${f})`);
      } else {
        assert.ok(!dump.includes(secret) && !dump.includes('test-key'), `a secret is on the command line (${f})`);
      }
    }
    const envFiles = path.join(cfg.dir, 'sandbox', 'env');
    assert.deepEqual(fs.existsSync(envFiles) ? fs.readdirSync(envFiles) : [], [], 'no env file left after the task');
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    await daemon.stop('SIGKILL');
  }
});
