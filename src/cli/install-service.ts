/** `airut install-service`: write the systemd unit for this install and print how to enable it. */
import os from 'node:os';
import path from 'node:path';
import type { Command } from './command.ts';
import { CONFIG_HELP, configPathOf } from './config-arg.ts';
import { INSTALL_ROOT, renderServiceUnit } from './service-unit.ts';
import { writeNewFile } from './write-new-file.ts';

const UNIT_DIR = '/etc/systemd/system';

function enableSteps(unitFile: string | null): string {
  const copy = unitFile === null ? `airut install-service > airut.service   # or --output PATH\n  sudo cp airut.service ${UNIT_DIR}/airut.service` : path.dirname(unitFile) === UNIT_DIR ? null : `sudo cp ${unitFile} ${UNIT_DIR}/airut.service`;
  return [
    'to enable it:',
    ...(copy ? [`  ${copy}`] : []),
    '  sudo systemctl daemon-reload',
    '  sudo systemctl enable --now airut',
    '  journalctl -u airut -o cat -f      # its log',
    'put the !env values in /etc/airut/airut.env (KEY=value lines, mode 0600); docs/deployment.md says more',
    '',
  ].join('\n');
}

export const installServiceCommand: Command = {
  name: 'install-service',
  summary: 'write the systemd unit for this install and print the systemctl commands',
  usage: `usage: airut install-service [--config PATH] [--output PATH]

Prints (or writes to --output) a systemd unit that runs \`${path.join(INSTALL_ROOT, 'bin', 'airut')} start\` with
this configuration, as the current user (root keeps the template's rootful-podman setup), then the
systemctl commands to enable it. Needs no privileges; never overwrites a file.

${CONFIG_HELP}  --output PATH   write the unit there (refused if the file exists), e.g. ${UNIT_DIR}/airut.service
`,
  options: { config: { type: 'string' }, output: { type: 'string' } },
  run: async (args, io) => {
    const uid = process.getuid?.() ?? 0;
    const unit = renderServiceUnit({
      root: INSTALL_ROOT,
      configPath: configPathOf(args.values, io),
      user: uid === 0 ? null : os.userInfo().username,
    });
    const output = typeof args.values.output === 'string' ? path.resolve(io.cwd, args.values.output) : null;
    if (output === null) {
      io.stdout.write(unit);
      // The steps go to stderr so that `airut install-service > airut.service` keeps the unit clean.
      io.stderr.write(enableSteps(null));
      return 0;
    }
    writeNewFile(output, unit);
    io.stdout.write(`wrote ${output}\n${enableSteps(output)}`);
    return 0;
  },
};
