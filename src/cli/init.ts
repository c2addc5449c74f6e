/** `airut init [PATH]`: write a commented starter configuration, never over an existing file. */
import path from 'node:path';
import { DEFAULT_CONFIG_PATH } from '../config/defaults.ts';
import type { Command } from './command.ts';
import { STARTER_CONFIG, STARTER_ENV_VARS } from './starter-config.ts';
import { writeNewFile } from './write-new-file.ts';

export const initCommand: Command = {
  name: 'init',
  summary: 'write a commented starter configuration with one repository',
  usage: `usage: airut init [PATH]

Writes a starter configuration to PATH (default ${DEFAULT_CONFIG_PATH}) and refuses to overwrite an
existing file. Edit it, set the variables its !env tags name, then run \`airut check\`.
`,
  options: {},
  maxPositionals: 1,
  run: async (args, io) => {
    const file = path.resolve(io.cwd, args.positionals[0] ?? DEFAULT_CONFIG_PATH);
    // 0600: the file may come to hold an inline secret although the starter reads them all with !env.
    writeNewFile(file, STARTER_CONFIG, 0o600);
    io.stdout.write(
      `wrote ${file}\nnext: edit it, set ${STARTER_ENV_VARS.join(' and ')} in the environment, then run: airut check --config ${file}\n`,
    );
    return 0;
  },
};
