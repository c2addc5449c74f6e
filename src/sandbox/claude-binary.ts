/**
 * Where the Claude Code binary comes from: the pinned npm package `@anthropic-ai/claude-code-linux-x64`
 * (a native executable that needs only glibc), or a path from the configuration. It is mounted
 * read-only into every container, never baked into an image.
 */
import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join } from 'node:path';
import { AirutError } from '../errors.ts';

const PACKAGE = '@anthropic-ai/claude-code-linux-x64';

/** The binary's path: `configured` when given, else the one in the installed npm package. */
export function resolveClaudeBinary(configured?: string | null): string {
  let path: string;
  if (configured) {
    if (!isAbsolute(configured)) {
      throw new AirutError('CLAUDE_BINARY_MISSING', `claude binary path "${configured}" must be absolute`);
    }
    path = configured;
  } else {
    try {
      const require = createRequire(import.meta.url);
      path = join(dirname(require.resolve(`${PACKAGE}/package.json`)), 'claude');
    } catch (err) {
      throw new AirutError(
        'CLAUDE_BINARY_MISSING',
        `the npm package ${PACKAGE} is not installed (run npm ci), and no claude binary path is configured`,
        { cause: err },
      );
    }
  }
  try {
    accessSync(path, constants.X_OK);
  } catch (err) {
    throw new AirutError('CLAUDE_BINARY_MISSING', `claude binary ${path} is missing or not executable`, {
      cause: err,
    });
  }
  return path;
}
