/** `airut submit`: a task through the dashboard's API (`POST /api/tasks`, or `…/messages` to continue a conversation). */
import fs from 'node:fs';
import path from 'node:path';
import { CliUsageError, type ParsedArgs } from './args.ts';
import { ApiClient } from './api-client.ts';
import { resolveApiTarget, TARGET_HELP, TARGET_OPTIONS } from './api-target.ts';
import type { ApiSubmitted } from './api-types.ts';
import type { CliIo, Command } from './command.ts';
import { buildSubmitRequest } from './submit-request.ts';
import { exitOnUnreachable, taskReport } from './task-report.ts';
import { followTask, pollTask } from './task-watch.ts';

const USAGE = `usage: airut submit (--repo R | --repos PRIMARY,OTHER[:read|:write],...) [options]
       airut submit --repo R --conversation ID [options]      continue a conversation

The prompt comes from --prompt, --file, or standard input (piped).

  --repo R             the repository
  --repos LIST         a primary and its companions: REPO[@BRANCH][:read|:write], comma-separated;
                       the first is the primary (mounted at /workspace), the others at /repos/NAME
  --conversation ID    continue this conversation of --repo (the next task resumes its session)
  --prompt TEXT        the prompt
  --file F             read the prompt from F ("-": standard input)
  --attach F           attach a file (repeatable)
  --subject S          the task's subject
  --model M            opus, sonnet, haiku, or a model id the repository allows
  --effort E           the reasoning effort (as the mail sub-address sets it)
  --budget USD         the task's budget, within the repository's limits
  --reply-to ADDR      also mail the result there (an address the repository's authorized_senders admits)
  --wait               wait until the task ends; exit 0 if it completed, 3 otherwise
  --follow             print the task's events as they come, until it ends (implies --wait)
  --json               print the API's answers as JSON lines (the 202 answer; with --follow each
                       {"event": ...}; with --wait or --follow the final {"task", "result", "files"})
${TARGET_HELP}
Exit codes: 0 submitted (with --wait: completed), 1 the dashboard refused (bad input, bad token,
unknown repository or conversation, limits; the server's message is printed), 2 bad command line,
3 the task ended without completing, 4 the dashboard could not be reached.
`;

const str = (v: ParsedArgs['values'][string]): string | undefined => (typeof v === 'string' ? v : undefined);

async function readStream(input: AsyncIterable<Buffer | string>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of input) parts.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(parts).toString('utf8');
}

/** Exactly one of --prompt, --file, or a pipe on standard input. */
async function readPrompt(values: ParsedArgs['values'], io: CliIo): Promise<string> {
  const given = [values.prompt, values.file].filter((v) => v !== undefined).length;
  if (given > 1) throw new CliUsageError('give the prompt once: --prompt or --file', USAGE);
  const text = str(values.prompt);
  if (text !== undefined) return text;
  const file = str(values.file);
  if (file !== undefined && file !== '-') {
    try {
      return fs.readFileSync(path.resolve(io.cwd, file), 'utf8');
    } catch (err) {
      throw new CliUsageError(`--file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, USAGE);
    }
  }
  if (!io.stdin || (io.stdin.isTTY && file === undefined)) throw new CliUsageError('no prompt: give --prompt TEXT, --file F, or pipe it in', USAGE);
  return readStream(io.stdin);
}

export const submitCommand: Command = {
  name: 'submit',
  summary: 'create a task through the dashboard API (--wait, --follow for scripts and CI)',
  usage: USAGE,
  options: {
    ...TARGET_OPTIONS,
    repo: { type: 'string' },
    repos: { type: 'string' },
    conversation: { type: 'string' },
    prompt: { type: 'string' },
    file: { type: 'string' },
    attach: { type: 'string', multiple: true },
    subject: { type: 'string' },
    model: { type: 'string' },
    effort: { type: 'string' },
    budget: { type: 'string' },
    'reply-to': { type: 'string' },
    wait: { type: 'boolean' },
    follow: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  exitWhenDone: true,
  run: (args, io) =>
    exitOnUnreachable(io, 'submit', async () => {
      const v = args.values;
      const request = buildSubmitRequest(
        {
          ...(str(v.repo) !== undefined ? { repo: str(v.repo) } : {}),
          ...(str(v.repos) !== undefined ? { repos: str(v.repos) } : {}),
          ...(str(v.conversation) !== undefined ? { conversation: str(v.conversation) } : {}),
          ...(str(v.subject) !== undefined ? { subject: str(v.subject) } : {}),
          ...(str(v.model) !== undefined ? { model: str(v.model) } : {}),
          ...(str(v.effort) !== undefined ? { effort: str(v.effort) } : {}),
          ...(str(v.budget) !== undefined ? { budget: str(v.budget) } : {}),
          ...(str(v['reply-to']) !== undefined ? { replyTo: str(v['reply-to']) } : {}),
          prompt: await readPrompt(v, io),
          attach: Array.isArray(v.attach) ? v.attach : [],
        },
        io.cwd,
        USAGE,
      );
      const client = new ApiClient(resolveApiTarget(v, io, USAGE));
      const json = v.json === true;
      const submitted = await client.postJson<ApiSubmitted>(request.path, request.body, 'submitting the task');
      const { task, conversation } = submitted;
      if (json) io.stdout.write(JSON.stringify(submitted) + '\n');
      else io.stdout.write(`task ${task.id} ${task.status} · ${conversation.repo} · conversation ${conversation.id}\n${client.url(task.url)}\n`);
      if (v.wait !== true && v.follow !== true) return 0;
      const report = taskReport(io, client, json);
      const watch = v.follow === true ? followTask : pollTask;
      return report.end(await watch(client, task.id, { after: 0, onEvents: v.follow === true ? report.onEvents : () => undefined }));
    }),
};
