/** `airut logs TASK [--follow] [--json]`: a task's events, and its result once it has one. */
import { CliUsageError } from './args.ts';
import { ApiClient } from './api-client.ts';
import { resolveApiTarget, TARGET_HELP, TARGET_OPTIONS } from './api-target.ts';
import { isTaskFinal } from './api-types.ts';
import type { Command } from './command.ts';
import { formatTaskHeadline } from './task-format.ts';
import { exitOnUnreachable, taskReport } from './task-report.ts';
import { followTask, readTask } from './task-watch.ts';

const USAGE = `usage: airut logs TASK [--follow] [--json] [--url URL] [--token-file F]

Prints the task's events (the agent's text, tool calls and their first line of output, the
result) and, once it has ended, its status, cost, result text and reply files.

  --follow         keep printing new events until the task ends; then exit 0 if it completed,
                   3 if it ended otherwise (failed, timeout, cancelled, ...)
  --json           the API's answer as one JSON line; with --follow one line {"event": ...} per
                   event, then {"task", "result", "files"}
${TARGET_HELP}
Exit codes: 0 done, 1 the dashboard refused (the message says why: bad token, no such task),
2 bad command line, 3 (--follow) the task did not complete, 4 the dashboard could not be reached.
Token: $AIRUT_TOKEN or --token-file (see docs/api.md, "Command line").
`;

export function parseTaskId(raw: string | undefined, usage: string): number {
  if (raw === undefined) throw new CliUsageError('which task? give its id (e.g. airut logs 42)', usage);
  if (!/^[1-9]\d{0,15}$/.test(raw)) throw new CliUsageError(`the task id must be a positive integer, not ${JSON.stringify(raw)}`, usage);
  return Number(raw);
}

export const logsCommand: Command = {
  name: 'logs',
  summary: "print a task's events and result (--follow: until it ends)",
  usage: USAGE,
  options: { ...TARGET_OPTIONS, follow: { type: 'boolean' }, json: { type: 'boolean' } },
  maxPositionals: 1,
  exitWhenDone: true,
  run: (args, io) =>
    exitOnUnreachable(io, 'logs', async () => {
      const id = parseTaskId(args.positionals[0], USAGE);
      const client = new ApiClient(resolveApiTarget(args.values, io, USAGE));
      const json = args.values.json === true;
      const first = await readTask(client, id, 0);
      if (json && args.values.follow !== true) {
        io.stdout.write(JSON.stringify(first) + '\n');
        return 0;
      }
      const report = taskReport(io, client, json);
      if (!json) io.stdout.write(formatTaskHeadline(first.task, client.url(first.task.url)));
      report.onEvents(first.events);
      const after = first.events.length ? first.events[first.events.length - 1]!.id : 0;
      if (isTaskFinal(first.task.status) || args.values.follow !== true) {
        const code = isTaskFinal(first.task.status) ? report.end(first) : 0;
        return args.values.follow === true ? code : 0;
      }
      return report.end(await followTask(client, id, { after, onEvents: report.onEvents }));
    }),
};
