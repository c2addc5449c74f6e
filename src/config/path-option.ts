/**
 * A file-path option from the arguments after the script name: `--NAME PATH` or `--NAME=PATH`,
 * the last one winning, nothing after `--`. `--config` and `--env-file` are read this way.
 */
import { ConfigError } from '../errors.ts';

/** undefined when the option is absent; a ConfigError (showing `example`) when it has no value. */
export function pathOption(argv: readonly string[], name: string, example: string): string | undefined {
  const flag = `--${name}`;
  const missing = (form: string): ConfigError =>
    new ConfigError([{ path: '', message: `${form} needs a file path, as in ${form}${form.endsWith('=') ? '' : ' '}${example}` }]);
  let chosen: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') break;
    if (arg === flag) {
      const next = argv[i + 1];
      if (next === undefined || next === '' || next.startsWith('--')) throw missing(flag);
      chosen = next;
      i++;
    } else if (arg.startsWith(`${flag}=`)) {
      chosen = arg.slice(flag.length + 1);
      if (chosen === '') throw missing(`${flag}=`);
    }
  }
  return chosen;
}
