/** `airut reload`: send SIGHUP to the running daemon, found through its pid file. */
import { AirutError } from '../errors.ts';
import type { Command } from './command.ts';
import { CONFIG_HELP, CONFIG_OPTION, loadConfigOf } from './config-arg.ts';
import { pidFilePath, readPidFile } from './pid-file.ts';

export const reloadCommand: Command = {
  name: 'reload',
  summary: 'signal the running daemon (SIGHUP) to reload its configuration',
  usage: `usage: airut reload [--config PATH]

Sends SIGHUP to the daemon whose pid file (airut.pid beside the configured \`database:\`) names a
live airut-ts process. Exits 1 when there is no pid file or it is stale (the process has exited,
or its pid now belongs to another program).

${CONFIG_HELP}`,
  options: CONFIG_OPTION,
  run: async (args, io) => {
    const config = loadConfigOf(args.values, io);
    const file = pidFilePath(config.global.databasePath);
    const state = readPidFile(file);
    if (state.kind === 'absent') {
      throw new AirutError(
        'DAEMON_NOT_RUNNING',
        `no daemon to reload: there is no pid file ${file}. Start it with \`airut start\` (or the service), or pass the --config it runs with`,
      );
    }
    if (state.kind === 'stale') {
      throw new AirutError(
        'DAEMON_NOT_RUNNING',
        `no daemon to reload: the pid file ${file} is stale (${state.reason}); the daemon is not running. Delete the file and start the daemon`,
      );
    }
    process.kill(state.pid, 'SIGHUP');
    io.stdout.write(`sent SIGHUP to airut-ts (pid ${state.pid}, pid file ${file})\n`);
    return 0;
  },
};
