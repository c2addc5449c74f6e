/** What each `airut` subcommand module exports, and where it writes. */
import type { ParsedArgs, OptionSpec } from './args.ts';

export interface CliIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  /** Where `airut submit` reads a prompt piped to it; absent in tests that pipe nothing. */
  readonly stdin?: AsyncIterable<Buffer | string> & { readonly isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

export interface Command {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** The full `--help` text. */
  readonly usage: string;
  readonly options: OptionSpec;
  /** How many non-option arguments the command takes at most. */
  readonly maxPositionals?: number;
  /** End the process as soon as the command returns (it may leave sockets or children behind). */
  readonly exitWhenDone?: boolean;
  /** Returns the exit code; a negative one means "keep running" (the daemon). */
  run(args: ParsedArgs, io: CliIo): Promise<number>;
}
