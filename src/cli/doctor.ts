/** `airut doctor`: try everything the daemon needs, read-only (`npm start -- --check --online`). */
import { DEFAULT_CHECK_TIMEOUT_SECONDS, runDoctor } from '../doctor/doctor.ts';
import type { Command } from './command.ts';
import { CONFIG_HELP, CONFIG_OPTION, configArgv } from './config-arg.ts';

export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'check logins, git remotes, podman, Claude Code and the database; print what to fix',
  usage: `usage: airut doctor [--config PATH] [--timeout SECONDS]

Validates the configuration, then tries each repository's IMAP and SMTP login and git remote, its
storage directory, podman, the Claude Code binary and the database, read-only, and prints a table
of what to fix. Exits 1 on any FAIL.

${CONFIG_HELP}  --timeout SECONDS   limit for each check (default ${DEFAULT_CHECK_TIMEOUT_SECONDS})
`,
  options: { ...CONFIG_OPTION, timeout: { type: 'string' } },
  // A check that timed out may leave a child or socket behind; the report is written, so leave then.
  exitWhenDone: true,
  run: (args, io) => {
    const timeout = typeof args.values.timeout === 'string' ? ['--timeout', args.values.timeout] : [];
    return runDoctor([...configArgv(args.values), ...timeout], io.env, io);
  },
};
