/**
 * Writes docs/config-reference.md from the JSON Schemas — every key with its type, limits, default
 * and description — so that the reference cannot drift from what the loader accepts. To change
 * the text, change the schema's `description`s and run `npm run docs:config`.
 *
 *   npm run docs:config              rewrite the file
 *   npm run docs:config -- --check   exit 1 when the file is out of date (test/docs does this too)
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REFERENCE_PATH = path.join(ROOT, 'docs', 'config-reference.md');

export interface Schema {
  readonly $ref?: string;
  readonly type?: string | readonly string[];
  readonly description?: string;
  readonly default?: unknown;
  readonly enum?: readonly unknown[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: string;
  readonly minItems?: number;
  readonly uniqueItems?: boolean;
  readonly items?: Schema;
  readonly properties?: Readonly<Record<string, Schema>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean | Schema;
  readonly propertyNames?: Schema;
  readonly definitions?: Readonly<Record<string, Schema>>;
  readonly title?: string;
}

interface Row {
  readonly key: string;
  readonly type: string;
  readonly default: string;
  readonly description: string;
}

/** A `$ref` replaced by its definition; keywords next to the `$ref` win (as Ajv applies them). */
function resolve(node: Schema, root: Schema): Schema {
  if (!node.$ref) return node;
  const name = node.$ref.replace(/^#\/definitions\//, '');
  const def = root.definitions?.[name];
  if (!def) throw new Error(`unknown $ref ${node.$ref}`);
  const { $ref: _ignored, ...siblings } = node;
  return { ...resolve(def, root), ...siblings };
}

function types(node: Schema): string[] {
  return node.type === undefined ? [] : Array.isArray(node.type) ? [...node.type] : [node.type as string];
}

function code(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return `\`${text}\``;
}

/** "integer, 1–64", "one of `tls`, `starttls`, `none`", "list of strings, at least one". */
function describeType(node: Schema, root: Schema): string {
  const n = resolve(node, root);
  if (n.enum) return `one of ${n.enum.map(code).join(', ')}`;
  const ts = types(n).filter((t) => t !== 'null');
  const parts: string[] = [];
  const main = ts.length === 0 ? 'any' : ts.length === 1 ? (ts[0] as string) : ts.join(' or ');
  switch (main) {
    case 'integer':
    case 'number': {
      const range = n.minimum !== undefined && n.maximum !== undefined ? `${n.minimum}–${n.maximum}` : n.minimum !== undefined ? `≥ ${n.minimum}` : n.maximum !== undefined ? `≤ ${n.maximum}` : '';
      parts.push(range ? `${main}, ${range}` : main);
      break;
    }
    case 'boolean':
      parts.push('`true` or `false`');
      break;
    case 'string': {
      let t = 'string';
      if (n.pattern) t += ` matching \`${n.pattern}\``;
      if (n.maxLength !== undefined) t += `, at most ${n.maxLength} characters`;
      parts.push(t);
      break;
    }
    case 'array': {
      const item = n.items ? describeType(n.items, root) : 'values';
      let t = `list of ${item === 'string' ? 'strings' : item}`;
      if (n.minItems) t += n.minItems === 1 ? ', at least one' : `, at least ${n.minItems}`;
      if (n.uniqueItems) t += ', no duplicates';
      parts.push(t);
      break;
    }
    case 'object':
      parts.push(n.properties ? 'mapping' : `mapping of names to ${describeType(n.additionalProperties === true || n.additionalProperties === undefined || n.additionalProperties === false ? {} : n.additionalProperties, root)}`);
      break;
    default:
      parts.push(main);
  }
  if (types(n).includes('null')) parts.push('may be empty');
  return parts.join(', ');
}

/** The placeholder shown for the keys of a map (`repos.<id>`, `secrets.<NAME>`). */
function placeholder(key: string): string {
  return key === 'repos' ? '<id>' : '<NAME>';
}

/**
 * Table-safe text. `|` would end the cell (GFM wants it escaped even inside code spans); outside
 * code spans `*` (as in `*@domain`) would start emphasis. Inside code spans a backslash would show.
 */
function cell(text: string): string {
  return text
    .replace(/\s*\n\s*/g, ' ')
    .split(/(`[^`]*`)/)
    .map((part) => (part.startsWith('`') ? part.replace(/\|/g, '\\|') : part.replace(/([|*])/g, '\\$1')))
    .join('');
}

/** Depth-first: every key, and every object and map on the way, as a row. */
function collect(node: Schema, root: Schema, prefix: string, rows: Row[]): void {
  const n = resolve(node, root);
  const required = new Set(n.required ?? []);
  for (const [key, child] of Object.entries(n.properties ?? {})) {
    const c = resolve(child, root);
    const full = prefix ? `${prefix}.${key}` : key;
    const type = cell(describeType(c, root)) + (required.has(key) ? ', **required**' : '');
    rows.push({ key: full, type, default: c.default === undefined ? '' : code(c.default), description: cell(c.description ?? '') });
    collectChildren(c, root, full, key, rows);
  }
}

function collectChildren(c: Schema, root: Schema, full: string, key: string, rows: Row[]): void {
  if (c.properties) collect(c, root, full, rows);
  const extra = c.additionalProperties;
  if (extra && typeof extra === 'object') {
    const e = resolve(extra, root);
    const mapKey = `${full}.${placeholder(key)}`;
    const nameRule = c.propertyNames?.pattern ? ` The name must match \`${c.propertyNames.pattern}\`.` : '';
    if (e.properties) {
      rows.push({ key: mapKey, type: cell(describeType(e, root)), default: '', description: cell(`${e.description ?? ''}${nameRule}`.trim()) });
      collect(e, root, mapKey, rows);
    } else if (nameRule || !c.properties) {
      rows.push({ key: mapKey, type: cell(describeType(e, root)), default: '', description: cell(`${e.description ?? ''}${nameRule}`.trim()) });
    }
  }
}

function table(rows: readonly Row[]): string {
  const lines = ['| key | type | default | description |', '|---|---|---|---|'];
  for (const r of rows) lines.push(`| \`${r.key}\` | ${r.type} | ${r.default} | ${r.description} |`);
  return lines.join('\n');
}

/** One `###` section per top-level key, so that the page has a table of contents. */
function renderSchema(schema: Schema): string {
  const out: string[] = [];
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    const rows: Row[] = [];
    collect({ properties: { [key]: child }, required: schema.required?.includes(key) ? [key] : [] }, schema, '', rows);
    out.push(`### \`${key}\``, '', table(rows), '');
  }
  return out.join('\n');
}

function loadSchema(file: string): Schema {
  return JSON.parse(fs.readFileSync(path.join(ROOT, file), 'utf8')) as Schema;
}

/** The page for the given schemas (default: the committed ones). */
export function renderConfigReference(
  server: Schema = loadSchema('schemas/server-config.schema.json'),
  repo: Schema = loadSchema('schemas/repo-config.schema.json'),
): string {
  return [
    '# Configuration reference',
    '',
    '<!-- Generated from schemas/server-config.schema.json and schemas/repo-config.schema.json by',
    '     `npm run docs:config`. Do not edit: change the descriptions in the schemas and run it again.',
    '     test/docs/config-reference.test.ts fails when this file is out of date. -->',
    '',
    'Every key of both configuration files, with its type, limits and default, as the JSON Schemas',
    'define them — the same schemas the loaders validate against, so this page cannot drift from',
    'what is accepted. Rules that involve more than one key (unique inboxes, loopback-only plain',
    'connections, sender patterns, …), the `!env` and `!secret` tags, and examples are in',
    '[configuration.md](configuration.md) and [repository-setup.md](repository-setup.md).',
    '',
    '"may be empty" means the key may be present with no value, which counts as not set.',
    '',
    '## Server configuration (`config/airut.yaml`)',
    '',
    `Schema: \`schemas/server-config.schema.json\`. ${server.description ?? ''}`.trim(),
    '',
    renderSchema(server),
    '## Repository configuration (`.airut/airut.yaml`)',
    '',
    `Schema: \`schemas/repo-config.schema.json\`. ${repo.description ?? ''}`.trim(),
    '',
    renderSchema(repo),
  ]
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trimEnd()
    .concat('\n');
}

function main(argv: readonly string[]): number {
  const text = renderConfigReference();
  const rel = path.relative(ROOT, REFERENCE_PATH);
  if (argv.includes('--check')) {
    const current = fs.existsSync(REFERENCE_PATH) ? fs.readFileSync(REFERENCE_PATH, 'utf8') : '';
    if (current === text) return 0;
    process.stderr.write(`${rel} is out of date with the schemas: run npm run docs:config\n`);
    return 1;
  }
  fs.writeFileSync(REFERENCE_PATH, text);
  process.stdout.write(`wrote ${rel}\n`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
