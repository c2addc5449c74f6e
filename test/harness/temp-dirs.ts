/**
 * Temporary directories that go away when the test process exits. Test files create hundreds of
 * them (a daemon's database, storage and conversation clones take hundreds of megabytes each); left
 * behind, a few CI runs fill the disk of a shared machine. Removal happens at process exit, not
 * per test, so a test that restarts a daemon on the same directory still finds it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const created = new Set<string>();
let hooked = false;

/** `fs.mkdtempSync` under the system temp dir, removed (recursively) when the process exits. */
export function exitTempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  created.add(dir);
  if (!hooked) {
    hooked = true;
    process.once('exit', () => {
      for (const d of created) {
        try {
          fs.rmSync(d, { recursive: true, force: true, maxRetries: 2 });
        } catch {
          // Best effort: a file a container left with odd permissions must not fail the test run.
        }
      }
    });
  }
  return dir;
}
