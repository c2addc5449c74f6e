/**
 * `airut` — the operator's command (bin/airut runs this file). Picks the subcommand, parses its
 * options strictly, and turns the errors an operator can fix into a message and an exit code.
 */
import { AirutError } from '../errors.ts';
import { CliUsageError, parseCommandArgs } from './args.ts';
import { checkCommand } from './check.ts';
import type { CliIo, Command } from './command.ts';
import { doctorCommand } from './doctor.ts';
import { initCommand } from './init.ts';
import { installServiceCommand } from './install-service.ts';
import { reloadCommand } from './reload.ts';
import { startCommand } from './start.ts';
import { statusCommand } from './status.ts';
import { tokenCommand } from './token.ts';
import { logsCommand } from './logs.ts';
import { submitCommand } from './submit.ts';

export const COMMANDS: readonly Command[] = [
  startCommand,
  checkCommand,
  doctorCommand,
  reloadCommand,
  statusCommand,
  tokenCommand,
  submitCommand,
  logsCommand,
  initCommand,
  installServiceCommand,
];

export const USAGE = `usage: airut <command> [options]

${COMMANDS.map((c) => `  ${c.name.padEnd(18)}${c.summary}`).join('\n')}

\`airut <command> --help\` shows a command's options.
`;

/** Exit code for a bad command line (as most Unix tools use it). */
const USAGE_EXIT = 2;

/** Runs one command line; returns the exit code, negative while the daemon keeps running. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<{ code: number; command: Command | null }> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout).write(USAGE);
    return { code: name === undefined ? USAGE_EXIT : 0, command: null };
  }
  const command = COMMANDS.find((c) => c.name === name);
  try {
    if (!command) throw new CliUsageError(`unknown command "${name}"`, USAGE);
    const args = parseCommandArgs(rest, command.options, command.usage, command.maxPositionals ?? 0);
    if (args.values.help === true) {
      io.stdout.write(command.usage);
      return { code: 0, command: null };
    }
    return { code: await command.run(args, io), command };
  } catch (err) {
    if (err instanceof CliUsageError) {
      io.stderr.write(`airut${command ? ` ${command.name}` : ''}: ${err.message}\n\n${err.usage}`);
      return { code: USAGE_EXIT, command: null };
    }
    if (!(err instanceof AirutError)) throw err;
    io.stderr.write(`airut ${name}: ${err.message}\n`);
    return { code: 1, command: null };
  }
}

const io: CliIo = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, cwd: process.cwd() };
runCli(process.argv.slice(2), io).then(
  ({ code, command }) => {
    if (code < 0) return; // the daemon runs until a signal ends it
    if (command?.exitWhenDone) process.exit(code);
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`airut failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
