/**
 * A TaskContext for stage unit tests: fakes of the execution backend, the mirror, the store and the
 * event recorder that record what a stage asked of them, a real ConversationStore in a temporary
 * directory. Tests override the parts they exercise.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { ConversationStore } from '../../../src/conversation/index.ts';
import { DEFAULT_TASK_OUTPUT_LIMITS } from '../../../src/config/defaults.ts';
import type { ComposeBody, ReplyAttachment } from '../../../src/reply/compose.ts';
import type {
  AgentEvent,
  AgentOutcome,
  AgentRunRequest,
  CommandOutcome,
  CommandRunRequest,
  ExecutionBackend,
  ImageSpec,
  SandboxedNetworkRequest,
  TaskNetwork,
} from '../../../src/sandbox/execution-backend.ts';
import type { EnsuredImage } from '../../../src/sandbox/image.ts';
import type { TaskRow } from '../../../src/store/task-queries.ts';
import type { TaskOutcomeUpdate } from '../../../src/store/task-queue.ts';
import type { RunTaskResult } from '../../../src/protocol/runner.ts';
import type { ApiRetryEvent, RepoMirror, TaskContext, TaskEvents } from '../../../src/runner/task-context.ts';
import type { TaskStore } from '../../../src/runner/task-store.ts';
import type { RequestedRepo } from '../../../src/protocol/requested-repos.ts';
import type { ConversationRepo } from '../../../src/store/conversation-repos.ts';
import type { TaskFiles } from '../../../src/runner/kept-files.ts';
import type { UpdateOptions } from '../../../src/git/index.ts';
import { testRepoServerConfig } from '../../harness/repo-server-config.ts';
import { exitTempDir } from '../../harness/temp-dirs.ts';
import { forgetImages } from '../../../src/runner/image-reuse.ts';

export const ALLOWLIST = 'domains:\n  - api.anthropic.com\n';
export const REPO_YAML = 'default_model: sonnet\ntimeout: 90\n';

export class FakeMirror implements RepoMirror {
  readonly files = new Map<string, string>([
    ['.airut/airut.yaml', REPO_YAML],
    ['.airut/network-allowlist.yaml', ALLOWLIST],
    ['.airut/container/Dockerfile', 'FROM scratch\n'],
  ]);
  updates = 0;
  /** What each update() was given. */
  readonly updateOptions: UpdateOptions[] = [];
  clones: string[] = [];
  updateError: Error | null = null;

  async update(options: UpdateOptions = {}): Promise<void> {
    this.updates++;
    this.updateOptions.push(options);
    if (this.updateError) throw this.updateError;
  }
  async readFile(p: string): Promise<Buffer | null> {
    const text = this.files.get(p);
    return text === undefined ? null : Buffer.from(text);
  }
  /** A stand-in tree id: the hash of the files under `dir`, as git's would change with them. */
  async treeOid(dir: string): Promise<string | null> {
    const under = [...this.files].filter(([p]) => p.startsWith(`${dir}/`)).sort();
    return under.length === 0 ? null : createHash('sha1').update(JSON.stringify(under)).digest('hex');
  }
  async exportDir(dir: string, dest: string): Promise<string[]> {
    const names: string[] = [];
    for (const [p, text] of this.files) {
      if (!p.startsWith(`${dir}/`)) continue;
      const name = p.slice(dir.length + 1);
      fs.writeFileSync(path.join(dest, name), text);
      names.push(name);
    }
    return names;
  }
  async cloneWorkspace(dest: string): Promise<void> {
    this.clones.push(dest);
    fs.mkdirSync(path.join(dest, '.git'), { recursive: true });
  }
  async scrubWorkspace(): Promise<boolean> {
    return false;
  }
}

export class FakeBackend implements ExecutionBackend {
  readonly capacity = 1;
  images: ImageSpec[] = [];
  networks: Array<SandboxedNetworkRequest | null> = [];
  runs: AgentRunRequest[] = [];
  networkClosed = 0;
  /** What each run returns, in order (the last one repeats); events are emitted first. */
  outcomes: AgentOutcome[] = [success('done')];
  events: AgentEvent[] = [{ type: 'system_init', sessionId: 'sess-1', model: 'sonnet', cwd: '/workspace' }];
  imageError: Error | null = null;
  commands: CommandRunRequest[] = [];
  /** What runCommand returns (a schedule's trigger_command). */
  commandOutcome: CommandOutcome = { kind: 'exited', exitCode: 0, output: '', truncatedBytes: 0, stderrTail: '' };

  async ensureImage(spec: ImageSpec): Promise<EnsuredImage> {
    this.images.push(spec);
    if (this.imageError) throw this.imageError;
    spec.onTag?.('airut-test:abc');
    return { tag: 'airut-test:abc', built: true, log: '' };
  }
  async openNetwork(request: SandboxedNetworkRequest | null): Promise<TaskNetwork> {
    this.networks.push(request);
    return {
      sandboxed: request !== null,
      network: request ? 'sandbox-net' : 'default',
      extraArgs: [],
      env: {},
      close: async () => {
        this.networkClosed++;
      },
    };
  }
  async runAgent(request: AgentRunRequest, onEvent: (e: AgentEvent) => void): Promise<AgentOutcome> {
    this.runs.push(request);
    for (const e of this.events) onEvent(e);
    return this.outcomes[Math.min(this.runs.length - 1, this.outcomes.length - 1)]!;
  }
  async runCommand(request: CommandRunRequest): Promise<CommandOutcome> {
    this.commands.push(request);
    return this.commandOutcome;
  }
  /** Tasks whose end the runner waited on (settle), in order. */
  readonly settled: number[] = [];
  async settle(taskId: number): Promise<void> {
    this.settled.push(taskId);
  }
  cancel(): boolean {
    return false;
  }
  async reap(): Promise<{ reaped: []; failed: [] }> {
    return { reaped: [], failed: [] };
  }
  async pruneImages(): Promise<{ removed: []; failed: [] }> {
    return { removed: [], failed: [] };
  }
}

export function success(result: string): AgentOutcome {
  return { kind: 'success', result, sessionId: 'sess-1', costUsd: 0.5, turns: 3, durationMs: 1200 };
}

export class FakeStore implements TaskStore {
  acked = false;
  model: string | null = null;
  networkSandbox: boolean | null = null;
  raw = Buffer.from('From: a@example.com\r\nSubject: s\r\n\r\nbody\r\n');
  conversation: Array<Record<string, unknown>> = [];
  history = { subject: 'The first subject' as string | null, lastAnswer: 'the last answer' as unknown };
  imagesRecorded: string[] = [];
  stages: Array<{ stage: string; at: number }> = [];
  budgets: Array<number | null> = [];
  spend = { dayUsd: 0, monthUsd: 0 };

  ackQueued(): boolean {
    return this.acked;
  }
  setModel(model: string): void {
    this.model = model;
  }
  setNetworkSandbox(sandboxed: boolean): void {
    this.networkSandbox = sandboxed;
  }
  effort: string | null = null;
  pinnedEffort: string | null = null;
  setEffort(effort: string | null): void {
    this.effort = effort;
  }
  conversationEffort(): string | null {
    return this.pinnedEffort;
  }
  rawMessage(): Buffer {
    return this.raw;
  }
  saveConversation(fields: Record<string, unknown>): void {
    this.conversation.push(fields);
  }
  conversationHistory(): { subject: string | null; lastAnswer: unknown } {
    return this.history;
  }
  recordImage(tag: string): void {
    this.imagesRecorded.push(tag);
  }
  storeNetworkRows(rows: readonly unknown[]): number {
    return rows.length;
  }
  pushes: Array<{ host: string; repoPath: string; refs: string[] }> = [];
  taskPushes(): Array<{ host: string; repoPath: string; refs: string[] }> {
    return this.pushes;
  }
  recordStage(stage: string, at: number): void {
    this.stages.push({ stage, at });
  }
  requestTexts: string[] = [];
  saveRequestText(text: string): void {
    this.requestTexts.push(text);
  }
  requestedBudget(): number | null {
    return null;
  }
  setBudget(budgetUsd: number | null): void {
    this.budgets.push(budgetUsd);
  }
  senderSpend(): { dayUsd: number; monthUsd: number } {
    return this.spend;
  }
  viaApi = false;
  submittedByApi(): boolean {
    return this.viaApi;
  }
  requested: RequestedRepo[] = [];
  requestedRepos(): RequestedRepo[] {
    return this.requested;
  }
  keptRepos: ConversationRepo[] = [];
  conversationRepos(): ConversationRepo[] {
    return this.keptRepos;
  }
  saveConversationRepos(repos: readonly ConversationRepo[]): void {
    this.keptRepos = [...repos];
  }
}

/** Records what the stages ask to keep: the mails' files by task id, and the sent outbox files' names. */
export class FakeFiles implements TaskFiles {
  mail: Array<{ taskId: number; names: string[] }> = [];
  sent: Array<{ taskId: number; names: string[] }> = [];
  async keepMailFiles(taskId: number, saved: ReadonlyArray<{ savedName: string }>): Promise<void> {
    this.mail.push({ taskId, names: saved.map((s) => s.savedName) });
  }
  async keepSentFiles(taskId: number, sent: ReadonlyArray<{ name: string }>): Promise<void> {
    this.sent.push({ taskId, names: sent.map((f) => f.name) });
  }
}

export class FakeEvents implements TaskEvents {
  recorded: AgentEvent[] = [];
  finished = 0;
  record(e: AgentEvent): void {
    this.recorded.push(e);
  }
  networkTruncated(): void {}
  retries: ApiRetryEvent[] = [];
  apiRetry(r: ApiRetryEvent): void {
    this.retries.push(r);
  }
  finish(): void {
    this.finished++;
  }
}

export interface Reply {
  readonly body: ComposeBody;
  readonly attachments: readonly ReplyAttachment[];
  readonly finish: TaskOutcomeUpdate | undefined;
}

export interface FakeTaskContext extends TaskContext {
  readonly backend: FakeBackend;
  readonly mirror: FakeMirror;
  readonly store: FakeStore;
  readonly files: FakeFiles;
  readonly events: FakeEvents;
  readonly replies: Reply[];
  readonly interrupted: string[];
  /** What finishQuietly recorded (a scheduled run ended by its trigger_command). */
  readonly finished: TaskOutcomeUpdate[];
  readonly dir: string;
}

export function taskRow(overrides: Partial<TaskRow> = {}): TaskRow {
  return {
    id: 7, repoId: 'api', conversationId: 'c0ffee00', sender: 'alice@example.com', subject: 'Re: Fix the build', messageId: '<m1@example.com>',
    status: 'running', reason: null, detail: null, modelHint: null, model: null, sessionId: null, costUsd: null, turns: null, error: null,
    attempts: 1, createdAt: 0, startedAt: 0, finishedAt: null, networkSandbox: null, effort: null, apiRetries: 0, mergedInto: null, mergeKind: null,
    ...overrides,
  };
}

export function fakeContext(overrides: Partial<TaskContext> = {}): FakeTaskContext {
  // Each fake task starts as in a fresh runner thread: no image remembered from an earlier test.
  forgetImages();
  const dir = exitTempDir('airut-stage-');
  // The mirror makes the repo's storage directory in a real run; the image build lock lives there.
  const repo = testRepoServerConfig('api', { storageDir: path.join(dir, 'storage') });
  fs.mkdirSync(repo.storageDir);
  const replies: Reply[] = [];
  const interrupted: string[] = [];
  const finished: TaskOutcomeUpdate[] = [];
  const task = overrides.task ?? taskRow();
  let clock = 1_000;
  return {
    task,
    repo,
    conversationId: 'c0ffee00',
    bodyText: 'Please fix the build.',
    reposLineProblem: null,
    mailRepos: [],
    companionRepos: {},
    companionMirror: () => new FakeMirror(),
    senderLine: 'Alice <alice@example.com>',
    subject: 'Fix the build',
    isFirstTask: true,
    isResume: false,
    schedule: null,
    resumedFromPause: false,
    coalesced: [],
    live: null,
    settings: {
      databasePath: path.join(dir, 'airut.db'),
      allowedModels: ['sonnet', 'opus', 'haiku'],
      dashboardBaseUrl: 'https://airut.example',
      imageBuildTimeoutSeconds: 600,
      imageMaxAgeHours: 24,
      taskOutput: DEFAULT_TASK_OUTPUT_LIMITS,
      execution: {
        containerCommand: 'podman',
        containerNetwork: 'default',
        instance: 'test',
        claudeBinaryPath: '/opt/claude',
        maxConcurrent: 1,
        sandbox: { stateDir: dir, caFiles: { certPath: '/ca.crt', keyPath: '/ca.key' }, sidecar: { imageTag: 'x' } as never, upstreamOverrides: {} },
      },
    },
    log: pino({ level: 'silent' }),
    signal: new AbortController().signal,
    cancelReason: () => null,
    backend: new FakeBackend(),
    mirror: new FakeMirror(),
    conversations: new ConversationStore(repo.storageDir),
    store: new FakeStore(),
    files: new FakeFiles(),
    events: new FakeEvents(),
    now: () => (clock += 10),
    reply: async (body, attachments = [], finish) => {
      replies.push({ body, attachments, finish });
    },
    interrupt: (error: string): RunTaskResult => {
      interrupted.push(error);
      return { taskId: task.id, status: 'interrupted' };
    },
    finishQuietly: (u: TaskOutcomeUpdate) => void finished.push(u),
    onNetworkLogged: () => undefined,
    onTaskChanged: () => undefined,
    replies,
    interrupted,
    finished,
    dir,
    ...overrides,
  } as FakeTaskContext;
}
