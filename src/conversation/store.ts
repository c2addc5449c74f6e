/**
 * Per-repository conversation storage, as in the specification's storage layout:
 *
 *   storage_dir/conversations/<id>/
 *     context.json   what the daemon remembers (repo, model, Claude session, reply Message-IDs)
 *     workspace/     the git clone the agent works in        → /workspace
 *     claude/        Claude Code's state, for --resume        → /root/.claude
 *     gitconfig      user.name/email for the agent's commits
 *     inbox/         attachments of incoming mail
 *     outbox/        files the agent wants sent back
 *     storage/       the agent's own files kept between the tasks  → /storage
 *     task-files/    copies of the tasks' files for the dashboard (src/task-files/; never mounted)
 *
 * Directories the container can write to (inbox/, outbox/, workspace/, storage/) are treated as hostile:
 * nothing here follows a symlink found in them.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsc, promises as fs, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { AirutError } from '../errors.ts';
import { numberedName, safeFileName } from './filename.ts';
import { isConversationId } from './id.ts';
import { countedBytes, type OutboxEntry, type OutboxEntryKind } from './outbox-selection.ts';

export interface ConversationReply {
  /** Message-ID of a reply we sent, with angle brackets, e.g. `<airut.abcd1234.1700000000.x@example.com>`. */
  readonly messageId: string;
  readonly sentAt?: string;
  readonly taskId?: string;
}

export interface ConversationContext {
  readonly conversationId: string;
  readonly repoId: string;
  /** Fixed when the conversation starts. */
  readonly model: string;
  /** Claude Code session to `--resume`; null until the first run reports one. */
  readonly sessionId: string | null;
  /** ISO 8601. */
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly replies: readonly ConversationReply[];
  /** Subject of the mail that started it (without `Re:` and the ID tag). */
  readonly subject?: string;
  /** Address of the person who started it. */
  readonly sender?: string;
  /**
   * What Claude Code reported the session had cost in total after its last run. The CLI carries a
   * session's cost over on `--resume`, so a resumed run's budget and own cost are counted from here.
   */
  readonly sessionCost?: SessionCost;
}

export interface SessionCost {
  readonly sessionId: string;
  readonly totalUsd: number;
}

/** What a caller supplies to start a conversation; the rest is filled in. */
export interface NewConversation {
  readonly repoId: string;
  readonly model: string;
  readonly sessionId?: string | null;
  readonly subject?: string;
  readonly sender?: string;
}

export interface ConversationPaths {
  readonly root: string;
  readonly context: string;
  readonly workspace: string;
  readonly claude: string;
  readonly gitconfig: string;
  readonly inbox: string;
  readonly outbox: string;
  /** Mounted read-write at /storage; removed with the conversation. */
  readonly storage: string;
}

/** What kind of thing an lstat result is, for the outbox rules. */
function entryKind(st: Stats): OutboxEntryKind {
  if (st.isFile()) return 'file';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isDirectory()) return 'directory';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isBlockDevice() || st.isCharacterDevice()) return 'device';
  return 'other';
}

const O_NOFOLLOW = fsc.O_NOFOLLOW ?? 0;

function checkId(id: string): void {
  if (!isConversationId(id)) {
    throw new AirutError('CONVERSATION_ID_INVALID', `not a conversation ID: ${JSON.stringify(String(id).slice(0, 40))} (expected 8 lowercase hex characters)`);
  }
}

function isErrno(e: unknown, code: string): boolean {
  return (e as NodeJS.ErrnoException | null)?.code === code;
}

/** Writes `data` to `file` via a temporary file and rename, so readers see the old or the new content, never half. */
async function writeFileAtomic(file: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fh = await fs.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | O_NOFOLLOW, mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await fs.rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  try {
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
}

/** Characters a gitconfig value can't hold; quotes and backslashes are escaped instead. */
function gitconfigValue(v: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = v.replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
  return `"${clean.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function validateContext(raw: unknown, file: string): ConversationContext {
  const bad = (what: string): never => {
    throw new AirutError('CONVERSATION_CONTEXT_INVALID', `${file}: ${what}`);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return bad('must be a JSON object');
  const c = raw as Record<string, unknown>;
  for (const k of ['conversationId', 'repoId', 'model', 'createdAt', 'updatedAt'] as const) {
    if (typeof c[k] !== 'string') bad(`${k} must be a string`);
  }
  if (!isConversationId(c.conversationId)) bad('conversationId is not a conversation ID');
  if (c.sessionId !== null && typeof c.sessionId !== 'string') bad('sessionId must be a string or null');
  if (!Array.isArray(c.replies)) bad('replies must be an array');
  if (c.sessionCost !== undefined) {
    const sc = c.sessionCost as Partial<SessionCost> | null;
    if (typeof sc?.sessionId !== 'string' || typeof sc.totalUsd !== 'number' || !Number.isFinite(sc.totalUsd) || sc.totalUsd < 0) {
      bad('sessionCost must be {sessionId: string, totalUsd: a number of at least 0}');
    }
  }
  for (const r of c.replies as unknown[]) {
    if (typeof r !== 'object' || r === null || typeof (r as { messageId?: unknown }).messageId !== 'string') {
      bad('every entry of replies needs a messageId string');
    }
  }
  return c as unknown as ConversationContext;
}

export class ConversationStore {
  readonly storageDir: string;
  /** `storage_dir/conversations`. */
  readonly conversationsDir: string;

  constructor(storageDir: string) {
    this.storageDir = path.resolve(storageDir);
    this.conversationsDir = path.join(this.storageDir, 'conversations');
  }

  paths(id: string): ConversationPaths {
    checkId(id);
    const root = path.join(this.conversationsDir, id);
    return {
      root,
      context: path.join(root, 'context.json'),
      workspace: path.join(root, 'workspace'),
      claude: path.join(root, 'claude'),
      gitconfig: path.join(root, 'gitconfig'),
      inbox: path.join(root, 'inbox'),
      outbox: path.join(root, 'outbox'),
      storage: path.join(root, 'storage'),
    };
  }

  /**
   * Makes the directories and the first context.json. Fails with CONVERSATION_EXISTS when the ID is
   * taken (IDs are random; a clash means: draw another). `workspace/` is created empty, ready for
   * GitMirror.cloneWorkspace.
   */
  async create(id: string, init: NewConversation): Promise<ConversationContext> {
    const p = this.paths(id);
    await fs.mkdir(this.conversationsDir, { recursive: true });
    try {
      await fs.mkdir(p.root);
    } catch (e) {
      if (isErrno(e, 'EEXIST')) throw new AirutError('CONVERSATION_EXISTS', `conversation ${id} already exists`);
      throw e;
    }
    for (const d of [p.workspace, p.claude, p.inbox, p.outbox, p.storage]) await fs.mkdir(d);
    const now = new Date().toISOString();
    const context: ConversationContext = {
      conversationId: id,
      repoId: init.repoId,
      model: init.model,
      sessionId: init.sessionId ?? null,
      createdAt: now,
      updatedAt: now,
      replies: [],
      ...(init.subject !== undefined ? { subject: init.subject } : {}),
      ...(init.sender !== undefined ? { sender: init.sender } : {}),
    };
    // Written last: a conversation "exists" once its context does.
    await this.writeContext(id, context);
    return context;
  }

  /** True when the conversation has a context.json. */
  async exists(id: string): Promise<boolean> {
    if (!isConversationId(id)) return false;
    try {
      return (await fs.lstat(this.paths(id).context)).isFile();
    } catch {
      return false;
    }
  }

  async readContext(id: string): Promise<ConversationContext> {
    const file = this.paths(id).context;
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (e) {
      if (isErrno(e, 'ENOENT')) throw new AirutError('CONVERSATION_NOT_FOUND', `conversation ${id} does not exist`);
      throw e;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new AirutError('CONVERSATION_CONTEXT_INVALID', `${file}: not valid JSON (${(e as Error).message})`);
    }
    const ctx = validateContext(raw, file);
    if (ctx.conversationId !== id) {
      throw new AirutError('CONVERSATION_CONTEXT_INVALID', `${file}: holds conversation ${ctx.conversationId}, not ${id}`);
    }
    return ctx;
  }

  /** Replaces context.json atomically, as given (see updateContext for read-modify-write). */
  async writeContext(id: string, context: ConversationContext): Promise<void> {
    const p = this.paths(id);
    if (context.conversationId !== id) {
      throw new AirutError('CONVERSATION_CONTEXT_INVALID', `context of conversation ${context.conversationId} written to ${id}`);
    }
    validateContext(context, p.context);
    await writeFileAtomic(p.context, JSON.stringify(context, null, 2) + '\n');
  }

  /** Reads, applies `change`, stamps `updatedAt` and writes back. Callers serialize per conversation. */
  async updateContext(id: string, change: (c: ConversationContext) => ConversationContext): Promise<ConversationContext> {
    const next = { ...change(await this.readContext(id)), updatedAt: new Date().toISOString() };
    await this.writeContext(id, next);
    return next;
  }

  /**
   * The conversation's git identity, meant to be the agent's global gitconfig (e.g. mounted and
   * named by GIT_CONFIG_GLOBAL). `safe.directory=*` because the workspace belongs to another uid
   * inside the container. No credential helper here: tokens reach the container as environment
   * variables only. `include` lists config files (paths as the container sees them) read first,
   * so that e.g. an image's own `/root/.gitconfig` with a `gh` credential helper — the usual Airut
   * setup — keeps working while user.name/email come from here. Missing includes are ignored by git.
   */
  async writeGitconfig(
    id: string,
    identity: { readonly name: string; readonly email: string },
    options: { readonly include?: readonly string[] } = {},
  ): Promise<void> {
    const p = this.paths(id);
    let text = '';
    for (const inc of options.include ?? []) text += `[include]\n\tpath = ${gitconfigValue(inc)}\n`;
    text +=
      '[user]\n' +
      `\tname = ${gitconfigValue(identity.name)}\n` +
      `\temail = ${gitconfigValue(identity.email)}\n` +
      '[safe]\n' +
      '\tdirectory = *\n';
    await writeFileAtomic(p.gitconfig, text);
  }

  /** Throws unless `dir` is a real directory (not a symlink an agent put in its place). */
  private async realDir(dir: string): Promise<void> {
    let st;
    try {
      st = await fs.lstat(dir);
    } catch (e) {
      if (isErrno(e, 'ENOENT')) throw new AirutError('CONVERSATION_NOT_FOUND', `${dir} does not exist`);
      throw e;
    }
    if (!st.isDirectory()) throw new AirutError('CONVERSATION_UNSAFE_PATH', `${dir} is not a directory (a symlink or file is in its place)`);
  }

  /**
   * Stores an attachment in `inbox/` under a safe name (see safeFileName); a taken name gets `-1`,
   * `-2`, … before the extension. Never overwrites and never follows a symlink: the file is created
   * with O_EXCL|O_NOFOLLOW, so anything already at that name — file, directory or symlink — counts
   * as taken. Returns the name used.
   */
  async saveAttachment(id: string, name: string, content: Uint8Array | string): Promise<string> {
    const inbox = this.paths(id).inbox;
    await this.realDir(inbox);
    const base = safeFileName(name);
    for (let n = 0; n < 10_000; n++) {
      const candidate = numberedName(base, n);
      let fh;
      try {
        fh = await fs.open(path.join(inbox, candidate), fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | O_NOFOLLOW, 0o644);
      } catch (e) {
        if (isErrno(e, 'EEXIST') || isErrno(e, 'ELOOP') || isErrno(e, 'EISDIR')) continue;
        throw e;
      }
      try {
        await fh.writeFile(content);
      } catch (e) {
        await fh.close().catch(() => undefined);
        await fs.rm(path.join(inbox, candidate), { force: true });
        throw e;
      }
      await fh.close();
      return candidate;
    }
    throw new AirutError('ATTACHMENT_NAME_EXHAUSTED', `no free name for attachment ${base} in ${inbox}`);
  }

  /**
   * What `outbox/` holds: each top-level entry as lstat sees it (never followed, never opened).
   * The directory is read as a stream and at most `maxEntries` entries are examined, so an agent
   * that leaves a million files costs neither memory nor minutes; the rest are only counted.
   */
  async scanOutbox(id: string, maxEntries: number): Promise<{ entries: OutboxEntry[]; unexamined: number }> {
    const outbox = this.paths(id).outbox;
    await this.realDir(outbox);
    const entries: OutboxEntry[] = [];
    let unexamined = 0;
    const dir = await fs.opendir(outbox);
    for await (const dirent of dir) {
      if (entries.length >= maxEntries) {
        unexamined++;
        continue;
      }
      const st = await fs.lstat(path.join(outbox, dirent.name)).catch(() => null);
      if (!st) continue; // gone since readdir
      entries.push({ name: dirent.name, kind: entryKind(st), size: st.size, blocks: st.blocks });
    }
    return { entries, unexamined };
  }

  /**
   * Opens one outbox file for reading without following a symlink and without blocking on a FIFO
   * (O_NOFOLLOW | O_NONBLOCK): the entry may have been swapped since the scan. Fails unless it is
   * a regular file; `bytes` is its size as the caps count it (see outbox-selection.ts), taken from
   * the open file, so the caller can check it again. The caller closes the handle.
   */
  async openOutboxFile(id: string, filename: string): Promise<{ handle: FileHandle; size: number; bytes: number }> {
    const outbox = this.paths(id).outbox;
    await this.realDir(outbox);
    if (!filename || filename !== path.basename(filename) || filename === '.' || filename === '..') {
      throw new AirutError('CONVERSATION_UNSAFE_PATH', `not an outbox file name: ${JSON.stringify(filename)}`);
    }
    const handle = await fs.open(path.join(outbox, filename), fsc.O_RDONLY | O_NOFOLLOW | (fsc.O_NONBLOCK ?? 0)).catch((e) => {
      if (isErrno(e, 'ELOOP')) throw new AirutError('CONVERSATION_UNSAFE_PATH', `outbox/${filename} is a symbolic link`);
      throw e;
    });
    const st = await handle.stat().catch(async (e: unknown) => {
      await handle.close();
      throw e;
    });
    if (!st.isFile()) {
      await handle.close();
      throw new AirutError('CONVERSATION_UNSAFE_PATH', `outbox/${filename} is not a regular file`);
    }
    return { handle, size: st.size, bytes: countedBytes(st.size, st.blocks) };
  }

  /** Empties `outbox/` (after its files were sent). Symlinks are removed, never followed. */
  async clearOutbox(id: string): Promise<void> {
    const outbox = this.paths(id).outbox;
    await this.realDir(outbox);
    for (const name of await fs.readdir(outbox)) {
      await fs.rm(path.join(outbox, name), { recursive: true, force: true });
    }
  }

  /** IDs of the stored conversations, sorted. */
  async listConversations(): Promise<string[]> {
    let entries;
    try {
      entries = await fs.readdir(this.conversationsDir, { withFileTypes: true });
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return [];
      throw e;
    }
    return entries
      .filter((e) => e.isDirectory() && isConversationId(e.name))
      .map((e) => e.name)
      .sort();
  }

  /** Removes the conversation and everything in it. A missing conversation is not an error. */
  async delete(id: string): Promise<void> {
    await fs.rm(this.paths(id).root, { recursive: true, force: true, maxRetries: 3 });
  }

  /**
   * When the conversation was last active: the later of context.json's `updatedAt` and its mtime
   * (so a context written by an older version still ages correctly). Null when it does not exist.
   */
  async lastActivity(id: string): Promise<Date | null> {
    const p = this.paths(id);
    let mtime: number;
    try {
      mtime = (await fs.stat(p.context)).mtimeMs;
    } catch {
      try {
        return (await fs.stat(p.root)).mtime; // half-created: judge by the directory
      } catch {
        return null;
      }
    }
    let updated = NaN;
    try {
      updated = Date.parse((await this.readContext(id)).updatedAt);
    } catch {
      // unreadable context: the file time is all there is
    }
    return new Date(Number.isFinite(updated) ? Math.max(updated, mtime) : mtime);
  }
}
