/** `airut start`: run the daemon in the foreground, as `npm start` does. */
import type { Command } from './command.ts';
import { CONFIG_HELP, CONFIG_OPTION, configArgv, configPathOf } from './config-arg.ts';
import { runDaemon } from './run-daemon.ts';

export const startCommand: Command = {
  name: 'start',
  summary: 'run the daemon in the foreground (what `npm start` does)',
  usage: `usage: airut start [--config PATH] [--env-file PATH] [--resilient]

Runs the daemon until SIGTERM or SIGINT (SIGHUP reloads; see docs/deployment.md, Signals). Writes its pid to airut.pid beside the database, for
\`airut reload\`. Logs are JSON lines on stdout.

${CONFIG_HELP}  --resilient     start the valid repositories when others are invalid; those are listed as failed on /health
                  until a reload fixes them (see docs/deployment.md, Resilient start)
`,
  options: { ...CONFIG_OPTION, resilient: { type: 'boolean' } },
  run: (args, io) =>
    runDaemon(configPathOf(args.values, io), [...configArgv(args.values), ...(args.values.resilient === true ? ['--resilient'] : [])]),
};
