/**
 * The task API's writes: `POST /api/tasks` creates a task (a new conversation), and
 * `POST /api/conversations/:repo/:id/messages` continues a conversation. Each becomes a synthetic
 * accepted mail (submit-mail.ts) recorded through the daemon's actions as mail is, so rate limits and
 * spending caps apply (429). Answered 202 with the task and its conversation; docs/api.md has the rest.
 */
import { Hono, type Context } from 'hono';
import { apiSenderAddress } from '../../reply/api-sender.ts';
import { baseSubject } from '../../reply/subject.ts';
import { conversationThread } from '../../store/conversation-thread.ts';
import { getConversation } from '../../store/conversations.ts';
import { conversationContinuable } from '../../store/api-tasks.ts';
import { getTask } from '../../store/task-queries.ts';
import type { ApiSubmission, IncomingMail } from '../../protocol/incoming-mail.ts';
import { scopeOf, type AccessScope } from '../access-scope.ts';
import { authOf } from '../auth-gate.ts';
import type { DashboardDeps } from '../context.ts';
import { DashboardError } from '../http-error.ts';
import { sendJson } from '../json.ts';
import { CSRF_HEADER } from '../security.ts';
import { subjectFor, syntheticMail } from '../submit-mail.ts';
import { parseMessageRequest, parseTaskRequest } from '../submit-request.ts';
import { checkBudget, checkModel, checkReplyTo, checkSize, READ_ONLY_TOKEN, submittableRepos, visibleRepo } from '../submit-rules.ts';

/**
 * A browser's session may submit too, but only from the dashboard's own pages with the CSRF token
 * (like Stop); a Bearer token is never sent by a browser on its own. An open dashboard (no token
 * configured) takes a script's request, which carries neither Origin nor Sec-Fetch-Site, and a
 * page of its own; another site's page is refused (and could not send JSON without a preflight).
 */
function refuseCrossSite(d: DashboardDeps, c: Context): void {
  const via = authOf(c);
  if (via === 'bearer') return;
  const fromScript = c.req.header('origin') === undefined && c.req.header('sec-fetch-site') === undefined;
  const ok = via === 'none' ? fromScript || d.security.sameOrigin(c) : d.security.sameOrigin(c) && d.security.csrfValid(c.req.header(CSRF_HEADER));
  if (!ok) throw new DashboardError(403, 'cross-site request refused: send the dashboard token as Authorization: Bearer');
}

async function readJson(c: Context): Promise<unknown> {
  const type = (c.req.header('content-type') ?? '').toLowerCase();
  if (!type.startsWith('application/json')) throw new DashboardError(415, 'send the body as JSON (Content-Type: application/json)');
  const text = await c.req.text(); // over the body limit, this throws and guards.ts answers 413
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new DashboardError(400, 'the body is not valid JSON');
  }
}

function answer(d: DashboardDeps, c: Context, taskId: number, repoId: string, conversationId: string | null): Response {
  const task = getTask(d.o.db, taskId);
  const convId = task?.conversationId ?? conversationId;
  return sendJson(
    c,
    {
      task: { id: taskId, status: task?.status ?? 'queued', url: `/tasks/${taskId}` },
      conversation: { repo: repoId, id: convId, url: convId ? `/conversations/${repoId}/${convId}` : null },
    },
    202,
  );
}

async function submit(d: DashboardDeps, c: Context, scope: AccessScope, mail: IncomingMail, conversationId: string | null): Promise<Response> {
  const outcome = await d.o.actions.submitTask(mail);
  const log = { task: outcome.taskId, repo: mail.repoId, token: scope.tokenName ?? 'admin', conversation: conversationId };
  if (outcome.refusal !== null) {
    d.o.log.warn({ ...log, reason: outcome.refusal }, 'api: task refused by a limit');
    throw new DashboardError(429, outcome.refusal);
  }
  d.o.log.info(log, 'api: task submitted');
  return answer(d, c, outcome.taskId, mail.repoId, conversationId);
}

async function createTask(d: DashboardDeps, c: Context): Promise<Response> {
  refuseCrossSite(d, c);
  const scope = scopeOf(c);
  const req = parseTaskRequest(await readJson(c));
  const { repo, requestedRepos } = submittableRepos(d.o.config, scope, req.primary, req.companions);
  checkModel(d.o.config, req.model);
  checkBudget(repo, req.budgetUsd);
  const replyTo = checkReplyTo(repo, req.replyTo);
  const api: ApiSubmission = { token: scope.tokenName, replyTo, newConversation: true, effort: req.effort, budgetUsd: req.budgetUsd };
  const mail = await syntheticMail({
    repo,
    sender: replyTo ?? apiSenderAddress(scope.tokenName),
    subject: subjectFor(req.subject, req.prompt),
    prompt: req.prompt,
    attachments: req.attachments,
    modelHint: req.model,
    api,
    requestedRepos,
  });
  checkSize(repo, mail.raw.byteLength, req.attachments);
  return submit(d, c, scope, mail, null);
}

const CONVERSATION_ID = /^[0-9a-f]{8}$/;

async function continueConversation(d: DashboardDeps, c: Context, repoId: string, convId: string): Promise<Response> {
  refuseCrossSite(d, c);
  const scope = scopeOf(c);
  const repo = visibleRepo(d.o.config, scope, repoId);
  // An archived conversation's files are gone (a message to it would start a new one), and one whose
  // only task left the queue unrun never began: neither is there to continue.
  if (!CONVERSATION_ID.test(convId) || !conversationContinuable(d.o.db, repoId, convId)) throw new DashboardError(404, 'no such conversation');
  if (!scope.submit) throw new DashboardError(403, READ_ONLY_TOKEN);
  const req = parseMessageRequest(await readJson(c));
  const replyTo = checkReplyTo(repo, req.replyTo);
  const thread = conversationThread(d.o.db, repoId, convId);
  const subject = getConversation(d.o.db, repoId, convId)?.subject || baseSubject(thread.subject) || subjectFor(null, req.prompt);
  const mail = await syntheticMail({
    repo,
    sender: replyTo ?? apiSenderAddress(scope.tokenName),
    subject: `Re: [ID:${convId}] ${subject}`,
    prompt: req.prompt,
    attachments: req.attachments,
    modelHint: null,
    api: { token: scope.tokenName, replyTo, newConversation: false, effort: null, budgetUsd: null },
    followUp: { conversationId: convId, thread },
  });
  checkSize(repo, mail.raw.byteLength, req.attachments);
  return submit(d, c, scope, mail, convId);
}

/** Mounted at `/api`. */
export function submitRoutes(d: DashboardDeps): Hono {
  return new Hono()
    .post('/tasks', (c) => createTask(d, c))
    .post('/conversations/:repo/:id/messages', (c) => continueConversation(d, c, c.req.param('repo'), c.req.param('id')));
}
