/**
 * Labels put on everything the daemon creates in the container runtime, so that it can find its
 * own containers and images again (orphans after a crash, old images) and never touch anyone else's.
 */
import { AirutError } from '../errors.ts';

/** Every container and image the daemon creates carries `airut.managed=1`. */
export const MANAGED_LABEL_KEY = 'airut.managed';
export const MANAGED_LABEL = `${MANAGED_LABEL_KEY}=1`;
/** Caller-supplied label keys (`task`, `repo`, `conversation`) are namespaced under this prefix. */
export const LABEL_PREFIX = 'airut.';

const LABEL_KEY = /^[a-z0-9][a-z0-9._-]*$/;

/**
 * The full label set for a container: `airut.managed=1` plus each caller label under `airut.`
 * (`{ task: 'abc' }` → `airut.task=abc`). Values are opaque to the sandbox.
 */
export function managedLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = { [MANAGED_LABEL_KEY]: '1' };
  for (const [key, value] of Object.entries(labels)) {
    if (!LABEL_KEY.test(key)) throw new AirutError('SANDBOX_SPEC_INVALID', `invalid label key "${key}": use lowercase letters, digits, . _ -`);
    if (/[\n\r\0]/.test(value)) throw new AirutError('SANDBOX_SPEC_INVALID', `label ${key}: value must be a single line`);
    out[`${LABEL_PREFIX}${key}`] = value;
  }
  return out;
}

/** The caller labels of a managed container, with the prefix taken off again. */
export function callerLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(labels)) {
    if (key.startsWith(LABEL_PREFIX) && key !== MANAGED_LABEL_KEY) out[key.slice(LABEL_PREFIX.length)] = value;
  }
  return out;
}
