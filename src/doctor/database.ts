/**
 * The SQLite file: there (or creatable), really a database, with a schema this version knows.
 * Read-only throughout — the doctor never creates the file, and never migrates it. It opens the
 * file through SQLite only when that cannot leave anything behind that the daemon's user could
 * not use: SQLite creates the `-wal`/`-shm` files next to it on open, and if root created them for
 * a database that belongs to another user, that user's daemon could no longer open it.
 */
import { accessSync, constants, existsSync, openSync, readSync, closeSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SCHEMA_VERSION } from '../store/migrations.ts';
import { countAllTasks, expectedTables, tableNames } from '../store/schema-inspect.ts';
import { fail, ok, warn, type CheckResult, type DoctorCheck } from './types.ts';

const NAME = 'database';
const MAGIC = 'SQLite format 3\0';

function writable(p: string): boolean {
  try {
    accessSync(p, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function nearestExistingDir(p: string): string {
  let dir = path.dirname(p);
  while (!existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

/** The first 100 bytes: the SQLite header, which holds `user_version` at offset 60. */
function readHeader(file: string): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(100);
    const n = readSync(fd, buf, 0, 100, 0);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

export function checkDatabase(file: string): CheckResult {
  const uid = process.getuid?.() ?? 0;
  if (!existsSync(file)) {
    const dir = nearestExistingDir(file);
    if (!writable(dir)) {
      return fail(NAME, `${file} does not exist, and ${dir} is not writable by uid ${uid}`, `create ${path.dirname(file)} for the daemon's user, or change \`database:\``);
    }
    return ok(NAME, `${file} does not exist yet; it will be created on first start`);
  }
  const st = statSync(file);
  if (!st.isFile()) return fail(NAME, `${file} is not a regular file`, 'point `database:` at a file path');
  if (st.size === 0) return ok(NAME, `${file} is empty; the schema will be created on first start`);

  let header: Buffer;
  try {
    header = readHeader(file);
  } catch (err) {
    return fail(NAME, `cannot read ${file}: ${(err as Error).message}`, 'run the doctor as the user that runs the daemon, and give that user read and write access to the file');
  }
  if (header.subarray(0, 16).toString('latin1') !== MAGIC) {
    return fail(NAME, `${file} is not a SQLite database`, 'point `database:` at another path; this file was not written by airut-ts');
  }

  const state = inspect(file, st.uid, uid, header);
  const dir = path.dirname(file);
  if (state.status !== 'FAIL' && (!writable(file) || !writable(dir))) {
    return fail(NAME, `${state.detail}; but it or its directory is not writable by uid ${uid}`, `the daemon's user needs write access to ${file} and to ${dir} (SQLite writes -wal and -shm files next to it)`);
  }
  return state;
}

/** What the file holds, judged read-only. */
function inspect(file: string, owner: number, uid: number, header: Buffer): CheckResult {
  const sidecarsExist = existsSync(`${file}-wal`) && existsSync(`${file}-shm`);
  if (owner !== uid && !sidecarsExist) {
    // Opening it would create -wal/-shm files owned by us; read only what the header says.
    const version = header.length >= 64 ? header.readUInt32BE(60) : 0;
    return warn(
      NAME,
      `${file} belongs to uid ${owner} but the doctor runs as uid ${uid}; its header says schema version ${version}`,
      'run the doctor as the user that runs the daemon (e.g. sudo -u airut npm start -- --check --online), so that it sees what the daemon sees',
    );
  }

  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    return fail(NAME, `cannot open ${file}: ${(err as Error).message}`, 'check the file permissions; restore the file from a backup if it is damaged (docs/deployment.md)');
  }
  try {
    db.pragma('busy_timeout = 2000');
    const version = db.pragma('user_version', { simple: true }) as number;
    const tables = tableNames(db);
    if (version > SCHEMA_VERSION) {
      return fail(NAME, `${file} has schema version ${version}, newer than this airut-ts knows (${SCHEMA_VERSION})`, 'upgrade airut-ts to the version that wrote the file, or point `database:` at another file');
    }
    if (version === 0) {
      if (tables.length > 0) {
        return fail(NAME, `${file} holds tables (${tables.slice(0, 5).join(', ')}) but no airut-ts schema`, 'point `database:` at another path; this file belongs to something else');
      }
      return ok(NAME, `${file} is empty; the schema will be created on first start`);
    }
    if (version < SCHEMA_VERSION) {
      return ok(NAME, `${file}: schema version ${version}; start-up migrates it to ${SCHEMA_VERSION} (back it up first, see docs/deployment.md)`);
    }
    const missing = expectedTables().filter((t) => !tables.includes(t));
    if (missing.length > 0) {
      return fail(NAME, `${file}: schema version ${version} but tables are missing: ${missing.join(', ')}`, 'restore the database from a backup (docs/deployment.md), or move it away to start with an empty one');
    }
    const tasks = countAllTasks(db);
    return ok(NAME, `${file}: schema version ${version}, ${tasks} task(s)`);
  } catch (err) {
    return fail(NAME, `cannot read ${file}: ${(err as Error).message}`, 'restore the database from a backup if it is damaged (docs/deployment.md)');
  } finally {
    db.close();
  }
}

export function databaseCheck(file: string): DoctorCheck {
  return {
    name: NAME,
    timeoutFix: 'another process may hold a long write lock on the database; check what else opens the file',
    run: async () => checkDatabase(file),
  };
}
