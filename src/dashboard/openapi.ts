/**
 * The OpenAPI 3.1 description of every route under `/api`, served at `GET /api/openapi.json`.
 *
 * Written by hand rather than generated from the routes: the routes are plain Hono handlers without
 * schema annotations, and adding a validator library for that alone was not worth a dependency.
 * test/dashboard/openapi.test.ts keeps the two honest: it validates this document and compares its
 * paths and methods with the routes the app really has, in both directions, so a route added
 * without its description (or the other way round) fails the build.
 *
 * It is served behind the same token as the API it describes: it names no secret, but the
 * dashboard has no other public JSON, and an anonymous caller can do nothing with it.
 */

import { OVERVIEW_DAYS } from './overview-data.ts';

type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Schema, description: string): Schema => ({ description, content: { 'application/json': { schema } } });
const errorResponse = (description: string): Schema => json(ref('Error'), description);

const ERRORS = {
  '400': errorResponse('Bad input; `error` names the field or parameter.'),
  '401': errorResponse('No valid token (`Authorization: Bearer <token>`).'),
  '404': errorResponse('Not found, or outside the token\'s repositories (the same answer for both).'),
  '421': errorResponse('The Host header is not one of the dashboard\'s names.'),
  '429': errorResponse('Too many failed token attempts from this address (Retry-After), or the repository\'s limits refuse a new task.'),
} as const;

const pick = (...codes: Array<keyof typeof ERRORS>): Schema => Object.fromEntries(codes.map((c) => [c, ERRORS[c]]));

const pathParam = (name: string, description: string, type: 'string' | 'integer' = 'string'): Schema => ({
  name,
  in: 'path',
  required: true,
  description,
  schema: type === 'integer' ? { type: 'integer', minimum: 1 } : { type: 'string' },
});
const queryParam = (name: string, description: string, schema: Schema): Schema => ({ name, in: 'query', required: false, description, schema });

const TASK_ID = pathParam('id', 'The task id.', 'integer');
const REPO = pathParam('repo', 'The repository id (its key under `repos:`).');
const CONV_ID = pathParam('id', 'The conversation id.');
const AFTER = queryParam('after', 'Only events (or rows) with a larger id: the cursor of the previous call.', { type: 'integer', minimum: 0 });

const STATUSES = ['queued', 'running', 'completed', 'failed', 'timeout', 'cancelled', 'interrupted', 'rejected', 'budget_exceeded', 'paused', 'merged'];

const SCHEMAS: Record<string, Schema> = {
  Error: { type: 'object', required: ['error'], properties: { error: { type: 'string' } } },
  TaskStatus: { type: 'string', enum: STATUSES },
  Task: {
    type: 'object',
    description: 'A task row; `url` is its dashboard page. Further columns may be added.',
    required: ['id', 'repoId', 'status', 'url'],
    properties: {
      id: { type: 'integer' },
      repoId: { type: 'string' },
      status: ref('TaskStatus'),
      conversationId: { type: ['string', 'null'] },
      sender: { type: ['string', 'null'] },
      subject: { type: ['string', 'null'] },
      model: { type: ['string', 'null'] },
      costUsd: { type: ['number', 'null'] },
      error: { type: ['string', 'null'] },
      createdAt: { type: 'integer', description: 'Milliseconds since the epoch.' },
      startedAt: { type: ['integer', 'null'] },
      finishedAt: { type: ['integer', 'null'] },
      url: { type: 'string' },
    },
    additionalProperties: true,
  },
  TaskEvent: {
    type: 'object',
    required: ['id', 'at', 'kind', 'data'],
    properties: {
      id: { type: 'integer' },
      at: { type: 'integer' },
      kind: { type: 'string', description: 'system_init, assistant_text, tool_use, tool_result, todo_list, result, raw, api_retry, output_truncated, …' },
      data: { description: 'The event as the runner stored it; its shape depends on `kind`.' },
    },
  },
  TaskFile: {
    type: 'object',
    description: "An attachment of the mail ('in') or a file of the reply ('out'): a download URL, or why it was not kept.",
    additionalProperties: true,
  },
  TaskDetail: {
    type: 'object',
    required: ['task', 'events', 'stages', 'replies', 'files'],
    properties: {
      task: ref('Task'),
      events: { type: 'array', items: ref('TaskEvent') },
      stages: { type: 'array', items: { type: 'object', properties: { attempt: { type: 'integer' }, stage: { type: 'string' }, at: { type: 'integer' } } } },
      replies: { type: 'array', items: { type: 'object', additionalProperties: true } },
      files: { type: 'array', items: ref('TaskFile') },
      repositories: { type: 'array', description: 'The primary (first) and any companion repositories (docs/multi-repo.md).', items: ref('TaskRepository') },
      webhooks: {
        type: 'array',
        description: "The repository's completion webhook deliveries for this task (docs/webhooks.md); id is X-Airut-Delivery.",
        items: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            status: { type: 'string', enum: ['pending', 'delivered', 'failed'] },
            attempts: { type: 'integer' },
            lastError: { type: ['string', 'null'] },
            deliveredAt: { type: ['integer', 'null'] },
          },
        },
      },
      result: {
        description: "What the task answered (its last reply, error or notice, kept whether or not it was mailed); null until it has.",
        oneOf: [{ type: 'null' }, { type: 'object', required: ['text', 'isError'], properties: { text: { type: 'string' }, isError: { type: 'boolean' } } }],
      },
    },
  },
  TaskRepository: {
    type: 'object',
    required: ['name', 'access', 'branch', 'primary'],
    properties: {
      name: { type: 'string' },
      access: { type: 'string', enum: ['read', 'write'] },
      branch: { type: ['string', 'null'] },
      primary: { type: 'boolean' },
    },
  },
  Attachment: {
    type: 'object',
    required: ['name', 'content_base64'],
    properties: { name: { type: 'string' }, content_base64: { type: 'string', contentEncoding: 'base64' }, content_type: { type: 'string' } },
  },
  RepositoryRef: {
    type: 'object',
    required: ['repo'],
    properties: {
      repo: { type: 'string' },
      branch: { type: 'string' },
      access: { type: 'string', enum: ['read', 'write'] },
      primary: { type: 'boolean', description: 'The primary repository (mounted at /workspace); else the first entry is.' },
    },
  },
  NewTask: {
    type: 'object',
    required: ['prompt'],
    description: 'Exactly one of `repo` and `repositories`.',
    oneOf: [{ required: ['repo'] }, { required: ['repositories'] }],
    properties: {
      repo: { type: 'string' },
      repositories: { type: 'array', minItems: 1, items: ref('RepositoryRef') },
      prompt: { type: 'string', minLength: 1 },
      subject: { type: 'string' },
      model: { type: 'string', description: 'opus, sonnet, haiku, or a model id the repository allows.' },
      effort: { type: 'string' },
      budget_usd: { type: 'number', exclusiveMinimum: 0, description: "Within the repository's limits." },
      reply_to: { type: 'string', description: "Also mail the result here; must be an address the repository's authorized_senders admits." },
      attachments: { type: 'array', items: ref('Attachment') },
    },
  },
  NewMessage: {
    type: 'object',
    required: ['prompt'],
    properties: { prompt: { type: 'string', minLength: 1 }, reply_to: { type: 'string' }, attachments: { type: 'array', items: ref('Attachment') } },
  },
  Submitted: {
    type: 'object',
    required: ['task', 'conversation'],
    properties: {
      task: { type: 'object', required: ['id', 'status', 'url'], properties: { id: { type: 'integer' }, status: ref('TaskStatus'), url: { type: 'string' } } },
      conversation: { type: 'object', required: ['repo', 'id', 'url'], properties: { repo: { type: 'string' }, id: { type: 'string' }, url: { type: 'string' } } },
    },
  },
};

const sse = (description: string): Schema => ({ description, content: { 'text/event-stream': { schema: { type: 'string' } } } });

const TASK_PATHS: Record<string, Schema> = {
  '/api/tasks': {
    get: {
      operationId: 'listTasks',
      summary: 'List tasks, newest first, searched and filtered as the dashboard page is.',
      parameters: [
        queryParam('q', 'Search text.', { type: 'string' }),
        queryParam('sender', 'Only tasks from this sender.', { type: 'string' }),
        queryParam('repo', 'Only this repository.', { type: 'string' }),
        queryParam('status', 'Only this status.', ref('TaskStatus')),
        queryParam('from', 'Created on or after this day (YYYY-MM-DD, UTC).', { type: 'string', format: 'date' }),
        queryParam('to', 'Created on or before this day (YYYY-MM-DD, UTC).', { type: 'string', format: 'date' }),
        queryParam('before', 'Page cursor: `nextBefore` of the previous page.', { type: 'integer' }),
        queryParam('limit', 'Tasks per page (default 50).', { type: 'integer', minimum: 1, maximum: 200 }),
      ],
      responses: {
        '200': json({ type: 'object', required: ['tasks'], properties: { tasks: { type: 'array', items: ref('Task') }, nextBefore: { type: ['integer', 'null'] } } }, 'A page of tasks.'),
        ...pick('400', '401', '421', '429'),
      },
    },
    post: {
      operationId: 'createTask',
      summary: 'Create a task for a repository (or a primary repository and its companions).',
      requestBody: { required: true, content: { 'application/json': { schema: ref('NewTask') } } },
      responses: {
        '202': json(ref('Submitted'), 'Queued.'),
        ...pick('400', '401', '404', '421', '429'),
        '403': errorResponse('A token that may only read, on a repository it sees; or a cookie-authenticated request without the CSRF token.'),
        '413': errorResponse('The body is over the limit, or over the repository\'s message or attachment limits.'),
        '415': errorResponse('The body is not application/json.'),
      },
    },
  },
  '/api/tasks/{id}': {
    get: {
      operationId: 'getTask',
      summary: 'One task with its events, stages, replies, files and result.',
      parameters: [TASK_ID, AFTER],
      responses: { '200': json(ref('TaskDetail'), 'The task.'), ...pick('401', '404', '421', '429') },
    },
  },
  '/api/tasks/{id}/stop': {
    post: {
      operationId: 'stopTask',
      summary: 'Stop a queued or running task.',
      parameters: [TASK_ID],
      responses: {
        '200': json({ type: 'object', properties: { ok: { type: 'boolean' }, status: { type: 'string' }, message: { type: 'string' } } }, 'Stopped.'),
        '409': json({ type: 'object', properties: { ok: { type: 'boolean' }, status: { type: 'string' }, message: { type: 'string' } } }, 'The task is not queued or running.'),
        '403': errorResponse('A token that may only read (on a task it sees), or a cookie-authenticated request without the CSRF token.'),
        ...pick('401', '404', '421', '429'),
      },
    },
  },
};

const CONVERSATION_PATHS: Record<string, Schema> = {
  '/api/conversations/{repo}/{id}': {
    get: {
      operationId: 'getConversation',
      summary: 'A conversation with its tasks and their total cost.',
      parameters: [REPO, CONV_ID],
      responses: {
        '200': json({ type: 'object', properties: { conversation: { type: ['object', 'null'] }, tasks: { type: 'array', items: ref('Task') }, totalCostUsd: { type: 'number' }, repositories: { type: 'array', items: ref('TaskRepository') } } }, 'The conversation.'),
        ...pick('401', '404', '421', '429'),
      },
    },
  },
  '/api/conversations/{repo}/{id}/messages': {
    post: {
      operationId: 'continueConversation',
      summary: 'Continue a conversation: the next task resumes its Claude session.',
      parameters: [REPO, CONV_ID],
      requestBody: { required: true, content: { 'application/json': { schema: ref('NewMessage') } } },
      responses: {
        '202': json(ref('Submitted'), 'Queued.'),
        ...pick('400', '401', '404', '421', '429'),
        '403': errorResponse('A token that may only read, on a repository it sees; or a cookie-authenticated request without the CSRF token.'),
        '413': errorResponse('The body is over the limit, or over the repository\'s message or attachment limits.'),
        '415': errorResponse('The body is not application/json.'),
      },
    },
  },
  '/api/conversations/{repo}/{id}/network': {
    get: {
      operationId: 'getConversationNetwork',
      summary: "The conversation's network log, oldest first, after a cursor.",
      parameters: [REPO, CONV_ID, AFTER, queryParam('limit', 'Rows at most (default 500).', { type: 'integer', minimum: 1, maximum: 1000 })],
      responses: {
        '200': json({ type: 'object', properties: { requests: { type: 'array', items: { type: 'object', additionalProperties: true } }, lastId: { type: 'integer' }, more: { type: 'boolean' } } }, 'A page of requests.'),
        ...pick('400', '401', '404', '421', '429'),
      },
    },
  },
  '/api/repos': {
    get: {
      operationId: 'listRepos',
      summary: 'The repositories with their listener state, task counts and spend.',
      responses: {
        '200': json({ type: 'object', properties: { status: { type: 'string' }, repos: { type: 'array', items: { type: 'object', additionalProperties: true } } } }, 'The repositories.'),
        ...pick('401', '421', '429'),
      },
    },
  },
  '/api/overview': {
    get: {
      operationId: 'getOverview',
      summary: "The Overview page's figures: tasks, outcomes, cost and durations per day.",
      parameters: [
        queryParam('days', 'How many days up to today (default 30).', { type: 'integer', enum: [...OVERVIEW_DAYS] }),
        queryParam('repo', 'Only this repository.', { type: 'string' }),
      ],
      responses: { '200': json({ type: 'object', additionalProperties: true }, 'The figures.'), ...pick('400', '401', '421', '429') },
    },
  },
  '/api/openapi.json': {
    get: {
      operationId: 'getOpenApi',
      summary: 'This document.',
      responses: { '200': json({ type: 'object' }, 'The OpenAPI description.'), ...pick('401', '421', '429') },
    },
  },
};

const STREAM_PATHS: Record<string, Schema> = {
  '/api/stream/tasks': {
    get: {
      operationId: 'streamTasks',
      summary: 'Server-sent events: `task` {id, status, html} whenever a task changes ({id, remove} when it leaves the filter).',
      parameters: [queryParam('repo', 'Only this repository.', { type: 'string' }), queryParam('status', 'Only this status.', ref('TaskStatus'))],
      responses: { '200': sse('An endless event stream.'), ...pick('401', '421', '429'), '503': errorResponse('Too many open streams.') },
    },
  },
  '/api/stream/tasks/{id}': {
    get: {
      operationId: 'streamTask',
      summary:
        'Server-sent events of one task: `timeline` {id, kind, html} for each event after the cursor (event id = task event id), ' +
        'then new ones; `task` {id, status, html} whenever the task row changes. The stream does not end by itself: a client stops when `task` reports a final status.',
      parameters: [TASK_ID, AFTER, { name: 'Last-Event-ID', in: 'header', required: false, schema: { type: 'string' } }],
      responses: { '200': sse('The event stream.'), ...pick('401', '404', '421', '429'), '503': errorResponse('Too many open streams.') },
    },
  },
  '/api/stream/conversations/{repo}/{id}': {
    get: {
      operationId: 'streamConversation',
      summary: "Server-sent events of a conversation: `network` rows of its log, `skipped` when the cursor was far behind, `task` when one of its tasks changes.",
      parameters: [REPO, CONV_ID, AFTER, { name: 'Last-Event-ID', in: 'header', required: false, schema: { type: 'string' } }],
      responses: { '200': sse('The event stream.'), ...pick('401', '404', '421', '429'), '503': errorResponse('Too many open streams.') },
    },
  },
};

/** The document; the same object on every call (it is built once, at import). */
export const OPENAPI_DOCUMENT = Object.freeze({
  openapi: '3.1.0',
  info: {
    title: 'airut-ts dashboard API',
    version: '1',
    description: 'The task API and the reads behind the dashboard. See docs/api.md.',
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'dashboard.auth_token (admin) or a token from `airut token create`.' } },
    schemas: SCHEMAS,
  },
  security: [{ bearer: [] }],
  paths: { ...TASK_PATHS, ...CONVERSATION_PATHS, ...STREAM_PATHS },
});
