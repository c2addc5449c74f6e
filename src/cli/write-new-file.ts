/** Writes a file that must not exist yet: `airut init` and `airut install-service` never overwrite. */
import fs from 'node:fs';
import path from 'node:path';
import { AirutError } from '../errors.ts';

export function writeNewFile(file: string, text: string, mode = 0o644): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  try {
    // 'wx' fails when the file exists, atomically: no window between a check and the write.
    fs.writeFileSync(file, text, { flag: 'wx', mode });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new AirutError('CLI_FILE_EXISTS', `${file} already exists; it was left as it is. Move it away or give another path`);
    }
    throw err;
  }
}
