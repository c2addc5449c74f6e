/** `airut status`: what the daemon is doing, from its dashboard when it answers, else from the database. */
import type { Command } from './command.ts';
import { CONFIG_HELP, CONFIG_OPTION, loadConfigOf } from './config-arg.ts';
import { pidFilePath, readPidFile, type PidFileState } from './pid-file.ts';
import { formatStatus } from './status-report.ts';
import { dashboardUrl, statusFromDashboard, statusFromDatabase } from './status-sources.ts';

function describeDaemon(state: PidFileState): string {
  if (state.kind === 'running') return `running (pid ${state.pid})`;
  if (state.kind === 'stale') return `not running (stale pid file ${state.file}: ${state.reason})`;
  return `not running (no pid file ${state.file})`;
}

export const statusCommand: Command = {
  name: 'status',
  summary: 'show repositories, listener states, running and queued tasks',
  usage: `usage: airut status [--config PATH]

Asks the running daemon's dashboard (/api/repos, /api/tasks; with dashboard.auth_token when set).
When the dashboard is off or does not answer, reads the database read-only instead; the first line
says which. Listener states read from the database are the last ones a daemon reported.

${CONFIG_HELP}`,
  options: CONFIG_OPTION,
  run: async (args, io) => {
    const config = loadConfigOf(args.values, io);
    const daemon = describeDaemon(readPidFile(pidFilePath(config.global.databasePath)));
    try {
      const facts = await statusFromDashboard(config);
      io.stdout.write(formatStatus({ source: `the running daemon's dashboard at ${dashboardUrl(config)}`, daemon, ...facts }));
    } catch (err) {
      const why = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
      const facts = statusFromDatabase(config);
      io.stdout.write(
        formatStatus({
          source: `the database ${config.global.databasePath}, read-only (the dashboard did not answer: ${why})`,
          daemon,
          ...facts,
        }),
      );
    }
    return 0;
  },
};
