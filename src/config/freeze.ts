/**
 * Deep freeze: the configuration is shared by every part of the daemon, and a part that changed
 * it in place would change it for all the others without anyone noticing.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
