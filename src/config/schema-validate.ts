/**
 * Checks the shape of the configuration against schemas/server-config.schema.json and turns every
 * ajv error into `<dotted path>: <plain sentence>`. ajv's own wording ("must NOT have additional
 * properties") names neither the key nor the fix, so each keyword gets its own message here.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { ConfigProblem } from '../errors.ts';
import { childPath, formatPath, isRecord, pointerToSegments } from './object-path.ts';
import { closestKey } from './suggest.ts';

export const SCHEMA_URL = new URL('../../schemas/server-config.schema.json', import.meta.url);

let compiled: ValidateFunction | null = null;

export function loadSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(SCHEMA_URL, 'utf8')) as Record<string, unknown>;
}

function validator(): ValidateFunction {
  // allErrors: report every problem in one run, not the first; verbose: keep the failing
  // (sub)schema on each error, which the messages below need (limits, known keys).
  compiled ??= new Ajv({ allErrors: true, verbose: true, strict: true }).compile(loadSchema());
  return compiled;
}

type SchemaNode = Record<string, unknown>;

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  object: 'a mapping (key: value lines)',
  array: 'a list',
};

function integerRange(schema: SchemaNode): string | null {
  const { minimum, maximum } = schema;
  return typeof minimum === 'number' && typeof maximum === 'number' ? `must be an integer from ${minimum} to ${maximum}` : null;
}

function typeMessage(types: readonly string[], parent: SchemaNode): string {
  const nullable = types.includes('null');
  const named = types.filter((t) => t !== 'null');
  if (named.length === 1 && named[0] === 'integer') {
    const range = integerRange(parent);
    if (range) return range;
  }
  const base = `must be ${named.map((t) => TYPE_NAMES[t] ?? t).join(' or ')}`;
  return nullable ? `${base} (or be left empty)` : base;
}

function knownKeys(parent: SchemaNode): string[] {
  return isRecord(parent.properties) ? Object.keys(parent.properties) : [];
}

/** The message for one ajv error, and the path it belongs to (which for some keywords is a child). */
function describe(error: ErrorObject, data: unknown, envPaths: ReadonlySet<string>, suggestedPaths: Set<string>): ConfigProblem {
  const at = formatPath(pointerToSegments(error.instancePath, data));
  const parent = (error.parentSchema ?? {}) as SchemaNode;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const known = knownKeys(parent);
      const guess = closestKey(key, known);
      if (guess) suggestedPaths.add(childPath(at, guess));
      const hint = guess ? ` (did you mean ${guess}?)` : known.length ? ` (expected one of: ${known.join(', ')})` : '';
      return { path: childPath(at, key), message: `unknown key${hint}` };
    }
    case 'required':
      return { path: childPath(at, String(params.missingProperty)), message: 'is required' };
    case 'type': {
      const types = Array.isArray(error.schema) ? (error.schema as string[]) : [String(error.schema)];
      // `imap_port: !env IMAP_PORT` fails as "must be an integer" although the variable holds
      // digits; saying why saves a puzzled look at the environment.
      const hint = envPaths.has(at) && !types.includes('string') ? ' (a value from !env is always a string)' : '';
      return { path: at, message: typeMessage(types, parent) + hint };
    }
    case 'minimum':
    case 'maximum': {
      const isInteger = parent.type === 'integer' || (Array.isArray(parent.type) && parent.type.includes('integer'));
      const range = isInteger ? integerRange(parent) : null;
      const word = error.keyword === 'minimum' ? 'at least' : 'at most';
      return { path: at, message: range ?? `must be ${word} ${String(params.limit)}` };
    }
    case 'enum':
      return { path: at, message: `must be one of: ${(error.schema as unknown[]).map(String).join(', ')}` };
    case 'minLength':
      return { path: at, message: params.limit === 1 ? 'must not be empty' : `must be at least ${String(params.limit)} characters long` };
    case 'minItems':
      return { path: at, message: params.limit === 1 ? 'must list at least one entry' : `must list at least ${String(params.limit)} entries` };
    case 'uniqueItems':
      return {
        path: at,
        message: `lists the same entry twice ([${Math.min(Number(params.i), Number(params.j))}] and [${Math.max(Number(params.i), Number(params.j))}])`,
      };
    default:
      // Only reached if the schema gains a keyword not handled above; the wording is ajv's, the
      // path is still ours. Values are never included, so nothing secret can leak through here.
      return { path: at, message: error.message ?? `is invalid (${error.keyword})` };
  }
}

/** `envPaths`: fields whose value came from `!env`, for a hint when such a field has the wrong type. */
export function validateAgainstSchema(data: unknown, envPaths: ReadonlySet<string> = new Set()): ConfigProblem[] {
  const validate = validator();
  if (validate(data)) return [];
  const seen = new Set<string>();
  const suggestedPaths = new Set<string>();
  const problems: ConfigProblem[] = [];
  for (const error of validate.errors ?? []) {
    const problem = describe(error, data, envPaths, suggestedPaths);
    const key = `${problem.path}\u0000${problem.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push(problem);
  }
  // `authorised_senders: unknown key (did you mean authorized_senders?)` already tells the whole
  // story; a second line saying `authorized_senders: is required` would only add noise.
  return problems.filter((p) => !(p.message === 'is required' && suggestedPaths.has(p.path)));
}
