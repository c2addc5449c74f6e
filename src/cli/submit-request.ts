/**
 * The body of `POST /api/tasks` (or `…/messages`) from `airut submit`'s options. Pure apart from
 * reading the attachment files; every mistake is a usage error naming the option.
 */
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ID_PATTERN } from '../config/rules.ts';
import { CliUsageError } from './args.ts';

export interface RepoRef {
  readonly repo: string;
  readonly branch?: string;
  readonly access?: 'read' | 'write';
  readonly primary?: boolean;
}

/** What `airut submit` asks for, once its options are read. */
export interface SubmitOptions {
  readonly repo?: string;
  readonly repos?: string;
  readonly conversation?: string;
  readonly prompt: string;
  readonly subject?: string;
  readonly model?: string;
  readonly effort?: string;
  readonly budget?: string;
  readonly replyTo?: string;
  readonly attach: readonly string[];
}

/** A repository id as the configuration allows it; refused early so that a typo is not a 404. */
const REPO_ID = REPO_ID_PATTERN;

/**
 * `primary,companion[@branch][:read|:write],…`: the first entry is the primary. A branch may be
 * given for any entry; git refuses `:` in a branch name, so the access suffix is unambiguous.
 */
export function parseRepoList(spec: string, usage: string): RepoRef[] {
  const entries = spec.split(',').map((s) => s.trim());
  if (entries.some((e) => e === '')) throw new CliUsageError(`--repos has an empty entry: ${JSON.stringify(spec)}`, usage);
  const seen = new Set<string>();
  return entries.map((entry, i) => {
    const m = /^([^@:]+)(?:@([^:]+))?(?::(.*))?$/.exec(entry);
    const [, repo = '', branch, access] = m ?? [];
    if (!m || !REPO_ID.test(repo)) throw new CliUsageError(`--repos: ${JSON.stringify(entry)} is not REPO[@BRANCH][:read|:write]`, usage);
    if (access !== undefined && access !== 'read' && access !== 'write') {
      throw new CliUsageError(`--repos: the access of ${repo} must be read or write, not ${JSON.stringify(access)}`, usage);
    }
    if (seen.has(repo)) throw new CliUsageError(`--repos names ${repo} twice`, usage);
    seen.add(repo);
    return { repo, ...(branch ? { branch } : {}), ...(access ? { access } : {}), ...(i === 0 ? { primary: true } : {}) };
  });
}

function readAttachment(file: string, cwd: string, usage: string): { name: string; content_base64: string } {
  let content: Buffer;
  try {
    content = fs.readFileSync(path.resolve(cwd, file));
  } catch (err) {
    throw new CliUsageError(`--attach ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, usage);
  }
  return { name: path.basename(file), content_base64: content.toString('base64') };
}

function parseBudget(raw: string, usage: string): number {
  const n = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || !(n > 0)) throw new CliUsageError(`--budget must be a positive amount of US dollars, e.g. 2.50 (got ${JSON.stringify(raw)})`, usage);
  return n;
}

/** The options a continued conversation cannot take: the messages route keeps the conversation's own. */
const NOT_WITH_CONVERSATION = ['repos', 'subject', 'model', 'effort', 'budget'] as const;

/** Which route, and its JSON body. */
export function buildSubmitRequest(o: SubmitOptions, cwd: string, usage: string): { path: string; body: Record<string, unknown> } {
  if (o.prompt.trim() === '') throw new CliUsageError('the prompt is empty', usage);
  const attachments = o.attach.map((f) => readAttachment(f, cwd, usage));
  const common = {
    prompt: o.prompt,
    ...(o.replyTo !== undefined ? { reply_to: o.replyTo } : {}),
    ...(attachments.length ? { attachments } : {}),
  };
  if (o.conversation !== undefined) {
    const extra = NOT_WITH_CONVERSATION.find((k) => o[k] !== undefined);
    if (extra) throw new CliUsageError(`--${extra} cannot be given with --conversation: a continued conversation keeps its own`, usage);
    if (o.repo === undefined) throw new CliUsageError('--conversation needs --repo (the repository of the conversation)', usage);
    return { path: `/api/conversations/${encodeURIComponent(o.repo)}/${encodeURIComponent(o.conversation)}/messages`, body: common };
  }
  if ((o.repo === undefined) === (o.repos === undefined)) throw new CliUsageError('give exactly one of --repo and --repos', usage);
  if (o.repo !== undefined && !REPO_ID.test(o.repo)) throw new CliUsageError(`--repo ${JSON.stringify(o.repo)} is not a repository id`, usage);
  const where = o.repo !== undefined ? { repo: o.repo } : { repositories: parseRepoList(o.repos!, usage) };
  return {
    path: '/api/tasks',
    body: {
      ...where,
      ...common,
      ...(o.subject !== undefined ? { subject: o.subject } : {}),
      ...(o.model !== undefined ? { model: o.model } : {}),
      ...(o.effort !== undefined ? { effort: o.effort } : {}),
      ...(o.budget !== undefined ? { budget_usd: parseBudget(o.budget, usage) } : {}),
    },
  };
}
