/**
 * Option parsing for the `airut` subcommands: node:util's parseArgs in strict mode, its errors
 * turned into CLI_USAGE errors that carry the subcommand's usage text, so every mistake on the
 * command line ends with what would have been right.
 */
import { parseArgs } from 'node:util';
import { AirutError } from '../errors.ts';

export interface OptionSpec {
  /** `multiple`: the option may be repeated; its value is then the list of every occurrence. */
  readonly [name: string]: { readonly type: 'string' | 'boolean'; readonly multiple?: boolean };
}

export interface ParsedArgs {
  readonly values: Readonly<Record<string, string | boolean | string[] | undefined>>;
  readonly positionals: readonly string[];
}

/** Raised for a bad command line; `usage` is printed after the message. */
export class CliUsageError extends AirutError {
  readonly usage: string;
  constructor(message: string, usage: string) {
    super('CLI_USAGE', message);
    this.usage = usage;
  }
}

/** Parses `argv` against `options` (plus --help); `maxPositionals` arguments that are not options are allowed. */
export function parseCommandArgs(argv: readonly string[], options: OptionSpec, usage: string, maxPositionals = 0): ParsedArgs {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    // parseArgs' messages name the option ("Unknown option '--x'", "Option '--config <value>' argument missing").
    // Drop parseArgs' advice about `--`: a value starting with a dash is never what these commands take.
    const first = (err as Error).message.split('\n')[0] ?? 'bad command line';
    throw new CliUsageError(first.replace(/\. To specify a positional argument.*$/, ''), usage);
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new CliUsageError(`unexpected argument: ${parsed.positionals[maxPositionals]}`, usage);
  }
  for (const [name, value] of Object.entries(parsed.values)) {
    if (value === '' || (Array.isArray(value) && value.includes(''))) throw new CliUsageError(`--${name} needs a value`, usage);
  }
  return { values: parsed.values as ParsedArgs['values'], positionals: parsed.positionals };
}
