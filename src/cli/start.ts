/** `airut start`: run the daemon in the foreground, as `npm start` does. */
import type { Command } from './command.ts';
import { CONFIG_HELP, CONFIG_OPTION, configArgv, configPathOf } from './config-arg.ts';
import { runDaemon } from './run-daemon.ts';

export const startCommand: Command = {
  name: 'start',
  summary: 'run the daemon in the foreground (what `npm start` does)',
  usage: `usage: airut start [--config PATH] [--env-file PATH]

Runs the daemon until SIGTERM or SIGINT (SIGHUP reloads; see docs/deployment.md, Signals). Writes its pid to airut.pid beside the database, for
\`airut reload\`. Logs are JSON lines on stdout.

${CONFIG_HELP}`,
  options: CONFIG_OPTION,
  run: (args, io) => runDaemon(configPathOf(args.values, io), configArgv(args.values)),
};
