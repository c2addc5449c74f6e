/**
 * The bodies of the task API's two writes (POST /api/tasks, POST /api/conversations/:repo/:id/messages),
 * checked with a JSON schema (ajv), then the checks a schema cannot make (exactly one of `repo` and
 * `repositories`, one primary, file names, base64). Every refusal names the field, as the API's
 * callers are scripts whose authors read the message once and fix the call.
 * What depends on the daemon's configuration (repositories, limits, authorized senders) is checked
 * by submit-rules.ts.
 */
import { Ajv, type ErrorObject } from 'ajv';
import type { RepoAccess } from '../protocol/requested-repos.ts';
import { DashboardError } from './http-error.ts';

/** The longest prompt, in characters: far beyond a request a person writes, well under the body limit. */
export const MAX_PROMPT_CHARS = 200_000;
export const MAX_SUBJECT_CHARS = 200;
export const MAX_REPOSITORIES = 20;
export const MAX_API_ATTACHMENTS = 100;

const name = { type: 'string', minLength: 1, maxLength: 100 } as const;
const attachments = {
  type: 'array',
  maxItems: MAX_API_ATTACHMENTS,
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'content_base64'],
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 255 },
      content_base64: { type: 'string' },
      content_type: { type: 'string', maxLength: 255, pattern: '^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$' },
    },
  },
} as const;
const prompt = { type: 'string', minLength: 1, maxLength: MAX_PROMPT_CHARS } as const;
const replyTo = { type: 'string', minLength: 3, maxLength: 254 } as const;

const TASK_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['prompt'],
  properties: {
    repo: name,
    repositories: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_REPOSITORIES,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['repo'],
        properties: {
          repo: name,
          branch: { type: 'string', minLength: 1, maxLength: 200 },
          access: { enum: ['read', 'write'] },
          primary: { type: 'boolean' },
        },
      },
    },
    prompt,
    subject: { type: 'string', maxLength: MAX_SUBJECT_CHARS },
    model: name,
    effort: { enum: ['low', 'medium', 'high', 'max'] },
    budget_usd: { type: 'number', exclusiveMinimum: 0, maximum: 1_000_000 },
    reply_to: replyTo,
    attachments,
  },
} as const;

const MESSAGE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['prompt'],
  properties: { prompt, reply_to: replyTo, attachments },
} as const;

/** The paths of the task API's writes (routes/submit.ts), which take the larger body limit (guards.ts). */
export function isSubmitPath(method: string, path: string): boolean {
  return method === 'POST' && (path === '/api/tasks' || /^\/api\/conversations\/[^/]+\/[^/]+\/messages$/.test(path));
}

const ajv = new Ajv({ allErrors: false, strict: true });
const validateTask = ajv.compile(TASK_SCHEMA);
const validateMessage = ajv.compile(MESSAGE_SCHEMA);

export interface ApiAttachment {
  readonly name: string;
  readonly content: Buffer;
  readonly contentType: string | null;
}

export interface RepoChoice {
  readonly repo: string;
  readonly branch: string | null;
  readonly access: RepoAccess | null;
}

/** A checked `POST /api/tasks` body. */
export interface TaskRequest {
  readonly primary: RepoChoice;
  /** The other entries of `repositories`, in order. */
  readonly companions: readonly RepoChoice[];
  readonly prompt: string;
  readonly subject: string | null;
  readonly model: string | null;
  readonly effort: string | null;
  readonly budgetUsd: number | null;
  readonly replyTo: string | null;
  readonly attachments: readonly ApiAttachment[];
}

/** A checked `POST /api/conversations/:repo/:id/messages` body. */
export interface MessageRequest {
  readonly prompt: string;
  readonly replyTo: string | null;
  readonly attachments: readonly ApiAttachment[];
}

function bad(message: string): DashboardError {
  return new DashboardError(400, message);
}

/** `/repositories/1/access` → `repositories[1].access`. */
function fieldOf(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

function schemaError(e: ErrorObject): DashboardError {
  const at = fieldOf(e.instancePath);
  if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    return bad(`${at ? `${at}.` : ''}${missing} is required`);
  }
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    return bad(`${at ? `${at}.` : ''}${extra} is not a field of this request`);
  }
  if (e.keyword === 'enum') return bad(`${at} must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`);
  return bad(`${at || 'the body'} ${e.message ?? 'is not valid'}`);
}

/** A plain file name: what lands in the conversation's inbox/ must not name a directory or climb out of it. */
function checkFileName(n: string, field: string): void {
  // eslint-disable-next-line no-control-regex
  if (/[/\\\u0000-\u001f\u007f]/.test(n) || n === '.' || n === '..' || n.trim() !== n) {
    throw bad(`${field} must be a plain file name (no /, \\, control characters, surrounding spaces, "." or "..")`);
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function readAttachments(list: ReadonlyArray<{ name: string; content_base64: string; content_type?: string }> | undefined): ApiAttachment[] {
  const seen = new Set<string>();
  return (list ?? []).map((a, i) => {
    checkFileName(a.name, `attachments[${i}].name`);
    if (seen.has(a.name.toLowerCase())) throw bad(`attachments[${i}].name: two attachments are called ${JSON.stringify(a.name)}`);
    seen.add(a.name.toLowerCase());
    if (!BASE64.test(a.content_base64)) throw bad(`attachments[${i}].content_base64 must be base64 (RFC 4648, padded, no line breaks)`);
    return { name: a.name, content: Buffer.from(a.content_base64, 'base64'), contentType: a.content_type ?? null };
  });
}

function checkJsonObject(body: unknown): void {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('the body must be a JSON object');
}

function checkPrompt(p: string): string {
  if (p.trim() === '') throw bad('prompt must not be empty');
  return p;
}

type RawTask = {
  repo?: string;
  repositories?: Array<{ repo: string; branch?: string; access?: RepoAccess; primary?: boolean }>;
  prompt: string;
  subject?: string;
  model?: string;
  effort?: string;
  budget_usd?: number;
  reply_to?: string;
  attachments?: Array<{ name: string; content_base64: string; content_type?: string }>;
};

/** A safe ref name for a branch to clone: what `git check-ref-format --branch` accepts, without the odd corners. */
function checkBranch(branch: string, field: string): void {
  const ok =
    /^[A-Za-z0-9._/-]+$/.test(branch) &&
    !branch.startsWith('-') && !branch.startsWith('/') && !branch.endsWith('/') && !branch.endsWith('.') &&
    !branch.includes('..') && !branch.includes('//') && !branch.endsWith('.lock') &&
    !branch.split('/').some((p) => p.startsWith('.'));
  if (!ok) throw bad(`${field} is not a safe branch name (letters, digits, . _ - /; no "..", no leading "-" or ".")`);
}

function repoChoices(raw: RawTask): { primary: RepoChoice; companions: RepoChoice[] } {
  if ((raw.repo === undefined) === (raw.repositories === undefined)) throw bad('give exactly one of repo and repositories');
  if (raw.repo !== undefined) return { primary: { repo: raw.repo, branch: null, access: null }, companions: [] };
  const list = raw.repositories!;
  const primaries = list.filter((r) => r.primary === true);
  if (primaries.length > 1) throw bad('repositories: only one entry may be "primary": true');
  const seen = new Set<string>();
  list.forEach((r, i) => {
    if (seen.has(r.repo)) throw bad(`repositories[${i}].repo: ${r.repo} is named twice`);
    seen.add(r.repo);
    if (r.branch !== undefined) checkBranch(r.branch, `repositories[${i}].branch`);
  });
  const primaryEntry = primaries[0] ?? list[0]!;
  const choice = (r: (typeof list)[number]): RepoChoice => ({ repo: r.repo, branch: r.branch ?? null, access: r.access ?? null });
  return { primary: choice(primaryEntry), companions: list.filter((r) => r !== primaryEntry).map(choice) };
}

export function parseTaskRequest(body: unknown): TaskRequest {
  checkJsonObject(body);
  if (!validateTask(body)) throw schemaError(validateTask.errors![0]!);
  const raw = body as RawTask;
  const { primary, companions } = repoChoices(raw);
  return {
    primary,
    companions,
    prompt: checkPrompt(raw.prompt),
    subject: raw.subject ?? null,
    model: raw.model ?? null,
    effort: raw.effort ?? null,
    budgetUsd: raw.budget_usd ?? null,
    replyTo: raw.reply_to ?? null,
    attachments: readAttachments(raw.attachments),
  };
}

export function parseMessageRequest(body: unknown): MessageRequest {
  checkJsonObject(body);
  if (!validateMessage(body)) throw schemaError(validateMessage.errors![0]!);
  const raw = body as Pick<RawTask, 'prompt' | 'reply_to' | 'attachments'>;
  return { prompt: checkPrompt(raw.prompt), replyTo: raw.reply_to ?? null, attachments: readAttachments(raw.attachments) };
}
