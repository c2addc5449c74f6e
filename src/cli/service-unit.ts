/**
 * The systemd unit for this install: scripts/airut.service (the reviewed template, with the reasons
 * for each line) with its paths made this checkout's, `bin/airut start` as the command, and, when
 * run by someone other than root, `User=` set to them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The directory this code runs from: a clone, or the package directory of a global install. */
export const INSTALL_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TEMPLATE = path.join(INSTALL_ROOT, 'scripts', 'airut.service');
const TEMPLATE_ROOT = '/opt/airut-ts';

export interface UnitOptions {
  readonly root: string;
  readonly configPath: string;
  /** The user to run as; null keeps the template's root setup. */
  readonly user: string | null;
}

/** systemd splits ExecStart= on spaces: quote a path that has any. */
function execPath(p: string): string {
  return /\s/.test(p) ? `"${p.replace(/(["\\])/g, '\\$1')}"` : p;
}

export function renderServiceUnit(o: UnitOptions): string {
  const lines = fs.readFileSync(TEMPLATE, 'utf8').split('\n');
  const out = lines.map((line) => {
    if (line.startsWith('ExecStart=')) return `ExecStart=${execPath(path.join(o.root, 'bin', 'airut'))} start`;
    if (line.startsWith('Environment=AIRUT_CONFIG=')) return `Environment=AIRUT_CONFIG=${o.configPath}`;
    if (o.user !== null && line === '#User=airut') return `User=${o.user}`;
    if (o.user !== null && line.startsWith('#Environment=XDG_RUNTIME_DIR=')) return line.slice(1);
    if (line.startsWith('#   cp scripts/airut.service')) return null;
    return line.replaceAll(TEMPLATE_ROOT, o.root);
  });
  const header = `# Written by \`airut install-service\` for the install in ${o.root}${o.user ? `, running as ${o.user}` : ''}.\n`;
  return header + out.filter((l): l is string => l !== null).join('\n');
}
