/**
 * Issue 19 item 3 end to end: the real daemon, real Dovecot and SMTP capture, the real Claude Code
 * CLI in podman (and Docker where its daemon runs), the scripted agent. A repository whose server
 * configuration sets `resource_limits` and `capabilities`: inside the agent's container the cgroup
 * limits are those configured and CapEff holds exactly the configured capabilities;
 * CLAUDE_CODE_DISABLE_BACKGROUND_TASKS=1 is set although the repository sets 0; a file the first task
 * writes to /storage is there for the conversation's follow-up; the prompt is Airut's (channel
 * context naming /storage, then a `[sender time]` block).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ALICE, repoYaml, startE2eEnv, taskFor, type E2eEnv } from '../harness/e2e-env.ts';
import { capMask, CGROUP_PROBE, parseProbe } from '../harness/cgroup-probe.ts';
import { runtimeCases } from '../harness/runtimes.ts';
import { allMessageText } from '../harness/mock-anthropic.ts';

const CAPS = ['CHOWN', 'KILL'];
const FIRST = `[[bash:${CGROUP_PROBE}; echo BGT=$CLAUDE_CODE_DISABLE_BACKGROUND_TASKS; echo kept-across-tasks > /storage/note.txt; echo WROTE]]`;
const SECOND = '[[bash:cat /storage/note.txt]]';

for (const c of runtimeCases()) {
  describe(`container settings with ${c.command}`, { skip: c.skip }, () => {
    let env: E2eEnv;
    before(async () => {
      env = await startE2eEnv({ repoIds: ['cset'], runtime: c });
    });
    after(async () => {
      await env?.stop();
    });

    test('limits, capabilities and the forced variable reach the agent; /storage outlives the task; the prompt is Airut\'s', { timeout: 400_000 }, async () => {
      const repo = await env.repo('cset', repoYaml({ timeout: 300, extra: '  CLAUDE_CODE_DISABLE_BACKGROUND_TASKS: "0"\n' }), {
        extra: { resource_limits: { memory: '600m', cpus: 0.5, pids_limit: 200, timeout: 120 }, capabilities: CAPS },
      });
      const { cfg, daemon } = env.daemonWith([repo], 1);
      try {
        const m1 = await env.send('cset', 'probe the sandbox', FIRST);
        const reply = await env.finalReplyTo(m1, 180_000);
        const text = reply.text ?? '';
        assert.equal(taskFor(cfg, m1)?.status, 'completed', text);
        const probe = parseProbe(text);
        assert.ok(probe, `the probe ran:\n${text}`);
        assert.equal(probe.memory, 600 * 1024 * 1024, 'memory limit');
        assert.equal(probe.cpu, 0.5, 'cpu limit');
        assert.equal(probe.pids, 200, 'pids limit');
        assert.equal(probe.capEff.toString(16), capMask(CAPS).toString(16), 'exactly the configured capabilities');
        assert.match(text, /BGT=1\b/, 'CLAUDE_CODE_DISABLE_BACKGROUND_TASKS=1 wins over the repository\'s 0');
        assert.match(text, /WROTE/);
        const lowered = daemon.logs.find((l) => typeof l.msg === 'string' && l.msg.includes("above the server's resource_limits.timeout for repository cset"));
        assert.ok(lowered, 'the file asked 300 s, the server allows 120 s: warned');

        const conversationId = reply.header('x-airut-conversation')!;
        const onHost = path.join(cfg.dir, 'storage', 'cset', 'conversations', conversationId, 'storage', 'note.txt');
        assert.equal(fs.readFileSync(onHost, 'utf8'), 'kept-across-tasks\n', 'the file is in the conversation\'s storage/ on the host');

        const m2 = await env.send('cset', `Re: ${reply.subject}`, SECOND, { inReplyTo: reply.messageId!, references: [m1, reply.messageId!] });
        const reply2 = await env.finalReplyTo(m2, 180_000);
        assert.equal(reply2.header('x-airut-conversation'), conversationId);
        assert.match(reply2.text ?? '', /kept-across-tasks/, 'the follow-up finds what the first task put in /storage');

        const prompts = env.mock.messageRequests().map((r) => (r.body ? allMessageText(r.body) : '')).filter((t) => t.includes(SECOND));
        assert.ok(prompts.length > 0, 'the follow-up reached the API');
        assert.match(prompts[0]!, /everything not in \/workspace, \/inbox, and \/storage is reset/);
        assert.match(prompts[0]!, new RegExp(`\\[${ALICE.replace('.', '\\.')} \\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2} UTC\\]\\n\\[\\[bash:cat`));
        assert.equal(await daemon.stop('SIGTERM'), 0);
      } finally {
        await daemon.stop('SIGKILL');
      }
    });
  });
}
