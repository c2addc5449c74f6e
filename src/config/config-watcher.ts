/**
 * Watches the configuration file and calls `onChange` once its content changed and settled.
 *
 * The file's directory is watched, not the file: an editor that saves by writing a temporary file
 * and renaming it over the original replaces the inode, and a watch on the old inode would go
 * silent. Events come in bursts (write, rename, attribute change), so `onChange` waits until no
 * event came for `debounceMs`. It then compares a hash of the content with the last one it saw:
 * a `touch`, or a save without a change, does nothing. A missing or unreadable file counts as a
 * content of its own, so deleting the file is reported (the reload then says what is wrong).
 */
import { createHash } from 'node:crypto';
import { watch, readFileSync, type FSWatcher } from 'node:fs';
import path from 'node:path';

export const DEFAULT_DEBOUNCE_MS = 500;

export interface ConfigWatcherOptions {
  readonly file: string;
  readonly onChange: () => void;
  readonly debounceMs?: number;
  /** Called when the directory cannot be watched any more (it was removed); the watcher is closed. */
  readonly onError?: (err: Error) => void;
}

export interface ConfigWatcher {
  close(): void;
}

/** sha256 of the file, or a marker naming why it cannot be read. */
export function contentHash(file: string): string {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch (err) {
    return `unreadable:${(err as NodeJS.ErrnoException).code ?? 'error'}`;
  }
}

export function watchConfigFile(o: ConfigWatcherOptions): ConfigWatcher {
  const file = path.resolve(o.file);
  const name = path.basename(file);
  const debounceMs = o.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  let lastHash = contentHash(file);
  let timer: NodeJS.Timeout | null = null;
  let closed = false;

  const settle = () => {
    timer = null;
    if (closed) return;
    const hash = contentHash(file);
    if (hash === lastHash) return;
    lastHash = hash;
    o.onChange();
  };
  const watcher: FSWatcher = watch(path.dirname(file), { persistent: false }, (_event, changed) => {
    // Some platforms do not name the file; then any change in the directory is looked at.
    if (changed !== null && changed !== name) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(settle, debounceMs);
  });
  watcher.on('error', (err) => {
    close();
    o.onError?.(err);
  });
  const close = () => {
    closed = true;
    if (timer) clearTimeout(timer);
    watcher.close();
  };
  return { close };
}
