/**
 * Labels and names of the Kubernetes objects of a task. Pure.
 *
 * Every object carries the same label set, so the reaper can find an instance's leftovers with one
 * selector and read the task id back. Label values come from ids the daemon does not fully control
 * (a repository id from the configuration, in principle anything), so they are sanitized: a value
 * that is already a valid label value is kept; anything else is mapped to a valid value ending in
 * `-<8 hex of sha256(original)>`, so two different ids never share a label. A valid value that
 * already ends like that (`-` and 8 hex digits) is hashed too — otherwise a raw id could be chosen
 * to equal another id's sanitized form, and the reaper or a selector would mix the two up.
 *
 * Names follow the same rule for the instance part (DNS-1123 label: lowercase, ≤63), with a fixed
 * budget that fits the longest task id, so one instance has one name prefix for all its tasks.
 */
import { createHash } from 'node:crypto';
import { AirutError } from '../../errors.ts';

export const MANAGED_BY_KEY = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'airut';
export const LABEL_DOMAIN = 'airut.dev/';
export const INSTANCE_LABEL = `${LABEL_DOMAIN}instance`;
export const TASK_LABEL = `${LABEL_DOMAIN}task`;

const MAX_LABEL = 63;
const HASH_HEX = 8;
const LABEL_VALUE = /^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/;
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
/** The form a sanitized value ends in; a raw value of that form is hashed as well (see above). */
const HASHED_TAIL = new RegExp(`-[0-9a-f]{${HASH_HEX}}$`);
/** Caller label names (the part after `airut.dev/`): a label key's name segment. */
const LABEL_NAME = /^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$/;
const RESERVED_CALLER_LABELS = new Set(['instance', 'task']);

/** `airut-` + instance part + `-` + task id (≤16 digits) + `-env`/`-net` must fit in 63. */
const MAX_TASK_DIGITS = String(Number.MAX_SAFE_INTEGER).length;
const INSTANCE_NAME_BUDGET = MAX_LABEL - 'airut-'.length - 1 - MAX_TASK_DIGITS - '-env'.length;

function shortHash(raw: string): string {
  // JSON.stringify escapes lone surrogates, which UTF-8 encoding would all turn into U+FFFD: two
  // ids that differ only there must still hash differently.
  return createHash('sha256').update(JSON.stringify(raw), 'utf8').digest('hex').slice(0, HASH_HEX);
}

/**
 * Maps `raw` into the alphabet `allowed` (a character class body), within `max` characters:
 * kept when `valid` and short enough and not hash-shaped, else cleaned, trimmed to alnum ends and
 * suffixed with the hash of the original.
 */
function sanitize(raw: string, o: { valid: RegExp; invalidChars: RegExp; edge: RegExp; max: number; lower: boolean }): string {
  if (raw.length <= o.max && o.valid.test(raw) && !HASHED_TAIL.test(raw)) return raw;
  const hash = shortHash(raw);
  const cleaned = (o.lower ? raw.toLowerCase() : raw).replace(o.invalidChars, '-');
  const head = cleaned.slice(0, o.max - HASH_HEX - 1).replace(o.edge, '');
  return head === '' ? hash : `${head}-${hash}`;
}

/** A valid label value (≤63, `[A-Za-z0-9._-]`, alnum ends) for any id; distinct ids give distinct values. */
export function labelValue(raw: string): string {
  return sanitize(raw, { valid: LABEL_VALUE, invalidChars: /[^A-Za-z0-9._-]/g, edge: /^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, max: MAX_LABEL, lower: false });
}

/** The instance part of object names: a DNS-1123 label fragment of at most INSTANCE_NAME_BUDGET characters. */
export function instanceNamePart(instance: string): string {
  return sanitize(instance, { valid: DNS_LABEL, invalidChars: /[^a-z0-9-]/g, edge: /^[^a-z0-9]+|[^a-z0-9]+$/g, max: INSTANCE_NAME_BUDGET, lower: true });
}

export function checkTaskId(taskId: number): void {
  if (!Number.isSafeInteger(taskId) || taskId < 0) {
    throw new AirutError('SANDBOX_SPEC_INVALID', `task id ${String(taskId)} is not a non-negative integer, so its Kubernetes objects cannot be named`);
  }
}

/** Names of a task's objects: `airut-<instance>-<task>` (pod), `…-env` (Secret), `…-net` (NetworkPolicy). */
export function taskObjectNames(instance: string, taskId: number): { pod: string; secret: string; filesSecret: string; networkPolicy: string } {
  checkTaskId(taskId);
  const pod = `airut-${instanceNamePart(instance)}-${taskId}`;
  return { pod, secret: `${pod}-env`, filesSecret: `${pod}-cfg`, networkPolicy: `${pod}-net` };
}

/** The labels that select one task's pod (the NetworkPolicy's podSelector). */
export function taskSelectorLabels(instance: string, taskId: number): Record<string, string> {
  checkTaskId(taskId);
  return { [MANAGED_BY_KEY]: MANAGED_BY_VALUE, [INSTANCE_LABEL]: labelValue(instance), [TASK_LABEL]: String(taskId) };
}

/**
 * Every label of a task's objects: the managed-by, instance and task labels, and each caller label
 * (`repo`, `conversation`) under `airut.dev/` with its value sanitized.
 */
export function taskLabels(instance: string, taskId: number, caller: Readonly<Record<string, string>>): Record<string, string> {
  const out = taskSelectorLabels(instance, taskId);
  for (const [name, raw] of Object.entries(caller)) {
    if (!LABEL_NAME.test(name) || name.length > MAX_LABEL) {
      throw new AirutError('SANDBOX_SPEC_INVALID', `label name "${name}" is not valid for Kubernetes: use lowercase letters, digits, . _ - (at most 63, alphanumeric at both ends)`);
    }
    if (RESERVED_CALLER_LABELS.has(name)) throw new AirutError('SANDBOX_SPEC_INVALID', `label "${name}" is set by the Kubernetes backend itself and may not be given by the caller`);
    out[`${LABEL_DOMAIN}${name}`] = labelValue(raw);
  }
  return out;
}

function selector(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
}

/** Label selector of every object of an instance (the start-up reap). */
export function instanceSelector(instance: string): string {
  return selector({ [MANAGED_BY_KEY]: MANAGED_BY_VALUE, [INSTANCE_LABEL]: labelValue(instance) });
}

/** Label selector of one task's objects. */
export function taskSelector(instance: string, taskId: number): string {
  return selector(taskSelectorLabels(instance, taskId));
}

/** Reads the task id back from an object's labels (reaper); null when absent or not a task id we write. */
export function taskIdOf(labels: Readonly<Record<string, string>> | undefined): number | null {
  const raw = labels?.[TASK_LABEL];
  if (raw === undefined || !/^(0|[1-9][0-9]*)$/.test(raw)) return null;
  const id = Number(raw);
  return Number.isSafeInteger(id) ? id : null;
}
