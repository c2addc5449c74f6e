/** The command line of scripts/dashboard-screenshots.ts: where the pictures go, and which pages. */
import path from 'node:path';
import { DASHBOARD_PAGES, type DashboardPage } from './pages.ts';

export const SCREENSHOTS_USAGE = `usage: npm run screenshots -- [--out DIR] [--page NAME]...

  --out DIR     write dashboard-<page>-<width>.png into DIR (default docs/images/)
  --page NAME   only this page (repeatable); pages: ${DASHBOARD_PAGES.map((p) => p.name).join(', ')}
`;

export type ShotArgsErrorCode = 'UNKNOWN_ARGUMENT' | 'MISSING_VALUE' | 'UNKNOWN_PAGE';

/** A command line the script cannot act on; the message says what to type instead. */
export class ShotArgsError extends Error {
  constructor(
    readonly code: ShotArgsErrorCode,
    message: string,
  ) {
    super(`${message}\n\n${SCREENSHOTS_USAGE}`);
    this.name = 'ShotArgsError';
  }
}

export interface ShotArgs {
  /** Absolute. */
  readonly outDir: string;
  readonly pages: readonly DashboardPage[];
}

function pageNamed(name: string): DashboardPage {
  const page = DASHBOARD_PAGES.find((p) => p.name === name);
  if (!page) throw new ShotArgsError('UNKNOWN_PAGE', `there is no page "${name}"`);
  return page;
}

/** `root`: the project directory, which the default output and a relative --out are taken from. Null: --help. */
export function parseShotArgs(argv: readonly string[], root: string): ShotArgs | null {
  let outDir = path.join(root, 'docs/images');
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') return null;
    if (a !== '--out' && a !== '--page') throw new ShotArgsError('UNKNOWN_ARGUMENT', `unknown argument ${a}`);
    const value = argv[++i];
    if (value === undefined || value === '' || value.startsWith('--')) throw new ShotArgsError('MISSING_VALUE', `${a} needs a value`);
    if (a === '--out') outDir = path.resolve(root, value);
    else names.push(value);
  }
  return { outDir, pages: names.length ? names.map(pageNamed) : DASHBOARD_PAGES };
}
