/** `airut check`: validate the configuration offline (`npm start -- --check`). */
import { runConfigCheck } from '../config/check.ts';
import type { Command } from './command.ts';
import { CONFIG_HELP, CONFIG_OPTION, configArgv } from './config-arg.ts';

export const checkCommand: Command = {
  name: 'check',
  summary: 'validate the configuration and print a summary of the repositories',
  usage: `usage: airut check [--config PATH]

Loads the configuration (the !env variables it names must be set), prints a summary of the
repositories and exits 0, or lists every problem with its path and exits 1. Nothing is contacted.

${CONFIG_HELP}`,
  options: CONFIG_OPTION,
  run: async (args, io) => runConfigCheck(configArgv(args.values), io.env, io),
};
