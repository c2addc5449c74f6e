/**
 * The logger of a repository's listener thread: the same JSON lines as the pino logger of
 * logger.ts (level label, ISO time, bindings, `msg`; credential-named fields and registered
 * secret values redacted), without pino.
 *
 * Why: there is one listener thread, so one V8 isolate, per repository, and every isolate loads
 * its own copy of whatever the listener imports. pino with its serializers, redaction compiler and
 * transport machinery costs each isolate about half a MiB of heap and ~100 KiB of source to hold
 * (scripts/bench/listener-isolate.ts); a listener logs a few lines an hour and needs none of it.
 * Lines are written synchronously to fd 1, like logger.ts: the process's stdout, in order, and not
 * lost when the thread ends.
 */
import fs from 'node:fs';
import { REDACTED, REDACTED_KEYS, redactSecretValues } from './secret-values.ts';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/** One level's method: fields then message, or a message alone (pino's two common forms). */
export interface LogFn {
  (obj: object, msg?: string): void;
  (msg: string): void;
}

/** What listener code logs with; pino's Logger has the same shape, so shared modules take either. */
export type LineLog = { readonly [L in LogLevel]: LogFn } & { child(bindings: Record<string, unknown>): LineLog };

const LEVELS: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };
const REDACTED_KEY_SET = new Set(REDACTED_KEYS);
/**
 * pino's redaction paths reach `key`, `*.key` and `*.*.key`; here every level a log record
 * plausibly has is covered (deeper is left as it is: a bound on a value that refers to itself).
 */
const REDACT_DEPTH = 8;

function threshold(level: string | undefined): number {
  if (level === 'silent') return Infinity;
  return LEVELS[(level ?? 'info') as LogLevel] ?? LEVELS.info;
}

/** A copy of `value` with credential-named fields replaced, down to REDACT_DEPTH levels below the record; Errors as pino writes `err`. */
function redactKeys(value: unknown, depth: number): unknown {
  if (value instanceof Error) return { type: value.name, message: value.message, stack: value.stack };
  if (value === null || typeof value !== 'object' || Array.isArray(value) || depth > REDACT_DEPTH) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = REDACTED_KEY_SET.has(k) ? REDACTED : redactKeys(v, depth + 1);
  return out;
}

export interface LineLoggerOptions {
  /** Default: AIRUT_LOG_LEVEL, else info. */
  readonly level?: string;
  /** Where a finished line goes; default: fd 1, synchronously. */
  readonly write?: (line: string) => void;
}

export function createLineLogger(bindings: Record<string, unknown> = {}, options: LineLoggerOptions = {}): LineLog {
  const min = threshold(options.level ?? process.env.AIRUT_LOG_LEVEL);
  const write = options.write ?? ((line: string) => fs.writeSync(1, line));
  const make = (bound: Record<string, unknown>): LineLog => {
    const emit = (level: LogLevel) => (objOrMsg: object | string, msg?: string): void => {
      if (LEVELS[level] < min) return;
      const fields = typeof objOrMsg === 'string' ? {} : (objOrMsg as Record<string, unknown>);
      const text = typeof objOrMsg === 'string' ? objOrMsg : msg;
      const head = { level, time: new Date().toISOString(), ...bound };
      const tail = text === undefined ? {} : { msg: text };
      let json: string;
      try {
        json = JSON.stringify(redactKeys({ ...head, ...fields, ...tail }, 0));
      } catch (err) {
        // A field JSON cannot write (a cycle, a BigInt): the event is still logged, without its fields.
        json = JSON.stringify(redactKeys({ ...head, logFieldsDropped: (err as Error).message, ...tail }, 0));
      }
      write(redactSecretValues(json) + '\n');
    };
    return {
      trace: emit('trace'),
      debug: emit('debug'),
      info: emit('info'),
      warn: emit('warn'),
      error: emit('error'),
      fatal: emit('fatal'),
      child: (more) => make({ ...bound, ...more }),
    };
  };
  return make(bindings);
}
