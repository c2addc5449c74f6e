/**
 * docs/benchmarks.md is shared by several bench scripts; each owns one section between markers
 * and rewrites only that section.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs/benchmarks.md');

const DOCS_HEADER = `# Benchmarks

Numbers measured with the scripts in \`scripts/bench/\`. Each section is rewritten by the script that owns it; re-run it to refresh.
`;

/** Replaces (or appends) the section `key` of docs/benchmarks.md, leaving the rest alone. Returns the path. */
export function writeDocsSection(key: string, body: string): string {
  const start = `<!-- bench:${key}:start -->`;
  const end = `<!-- bench:${key}:end -->`;
  const block = `${start}\n${body.trim()}\n${end}`;
  // Read right before writing: other scripts own other sections of this file.
  let text: string;
  try {
    text = fs.readFileSync(FILE, 'utf8');
  } catch {
    text = DOCS_HEADER;
  }
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i >= 0 && j > i) text = text.slice(0, i) + block + text.slice(j + end.length);
  else text = `${text.replace(/\s*$/, '')}\n\n${block}\n`;
  fs.mkdirSync(path.dirname(FILE), { recursive: true });
  fs.writeFileSync(FILE, text);
  return FILE;
}
