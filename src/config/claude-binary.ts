/**
 * Where the Claude Code binary comes from when `claude.binary` is not set: the `claude` file of
 * the pinned npm package, found through Node's own resolution so that it works wherever
 * node_modules ends up (hoisted, nested, or a global prefix).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { CLAUDE_BINARY_PACKAGE } from './defaults.ts';

/** The bundled binary's absolute path, or null when the package is not installed on this machine. */
export function bundledClaudeBinary(): string | null {
  try {
    const manifest = createRequire(import.meta.url).resolve(`${CLAUDE_BINARY_PACKAGE}/package.json`);
    return path.join(path.dirname(manifest), 'claude');
  } catch {
    return null;
  }
}
