/**
 * A pod played in-process, speaking the same protocol as pod-entry.sh: it fetches the task's state
 * bundle from the daemon's pod gateway with the token from the task's Secret, hands the prompt and
 * arguments to a script that plays the agent (its lines become the agent container's log), and posts
 * the state back — the workspace changed by the script — before it exits with the script's code.
 * No container: for the backend's unit tests and the capacity bench, where hundreds of pods run at
 * once and what is measured is the daemon, not podman.
 */
import http from 'node:http';
import { Readable } from 'node:stream';
import type { V1Pod } from '@kubernetes/client-node';
import tar from 'tar-stream';
import type { PodRunContext, PodRunner, PodRunResult } from './pod-runner.ts';

export interface EmulatedRun {
  /** The user message(s) the agent got (airut/input.jsonl). */
  readonly input: string;
  /** Claude's arguments (airut/args). */
  readonly args: readonly string[];
  /** The trigger command for a `command` pod, else null. */
  readonly command: string | null;
  /** Files of the workspace as fetched, by path relative to it. */
  readonly workspace: ReadonlyMap<string, Buffer>;
  readonly signal: AbortSignal;
  readonly podName: string;
}

export interface EmulatedResult {
  /** Lines the agent writes to stdout (stream-json), in order. */
  readonly lines: readonly string[];
  readonly exitCode: number;
  /** Workspace files to add or replace before the state goes back. */
  readonly write?: Readonly<Record<string, string>>;
  /** Do not return the state (a pod killed without its grace period). */
  readonly skipUpload?: boolean;
}

export type EmulatedAgent = (run: EmulatedRun) => Promise<EmulatedResult>;

export class EmulatedPodRunner implements PodRunner {
  readonly #agent: EmulatedAgent;
  /** Pods run so far (names), for assertions. */
  readonly ran: string[] = [];

  constructor(agent: EmulatedAgent) {
    this.#agent = agent;
  }

  async run(ctx: PodRunContext): Promise<PodRunResult> {
    const pod = ctx.pod;
    const name = pod.metadata?.name ?? '';
    this.ran.push(name);
    const init = pod.spec?.initContainers?.[0];
    const agent = pod.spec?.containers[0];
    if (!init || !agent) throw new Error(`pod ${name} lacks its init or agent container`);
    const env = podEnv(pod, ctx);
    ctx.containerStarted(init.name);
    const bundle = await request(env, 'in', 'GET', null);
    if (bundle.status !== 200) return { container: init.name, exitCode: 1, reason: 'Error', message: `state fetch answered ${bundle.status}` };
    const entries = await readTar(bundle.body);
    ctx.containerStarted(agent.name);
    const workspace = new Map<string, Buffer>();
    for (const [p, data] of entries) if (p.startsWith('workspace/') && data) workspace.set(p.slice('workspace/'.length), data);
    const text = (p: string) => entries.get(p)?.toString('utf8') ?? '';
    const result = await this.#agent({
      input: text('airut/input.jsonl'),
      args: text('airut/args').split('\n').filter((l) => l !== ''),
      command: entries.has('airut/command') ? text('airut/command') : null,
      workspace,
      signal: ctx.signal,
      podName: name,
    });
    for (const line of result.lines) ctx.log(agent.name, Buffer.from(`${line}\n`));
    if (!result.skipUpload) {
      for (const [p, content] of Object.entries(result.write ?? {})) entries.set(`workspace/${p}`, Buffer.from(content));
      const out = await writeTar(entries);
      const posted = await request(env, 'out', 'POST', out);
      // As pod-entry.sh: only a 200 is a returned state; anything else is exit 97.
      if (posted.status !== 200) return { container: agent.name, exitCode: 97, reason: 'Error' };
    }
    return { container: agent.name, exitCode: result.exitCode, reason: result.exitCode === 0 ? 'Completed' : 'Error' };
  }
}

interface PodEnv {
  readonly gateway: string;
  readonly task: string;
  readonly token: string;
}

function podEnv(pod: V1Pod, ctx: PodRunContext): PodEnv {
  const vars = pod.spec?.initContainers?.[0]?.env ?? [];
  const value = (n: string): string => {
    const v = vars.find((e) => e.name === n);
    if (v?.value !== undefined) return v.value;
    const ref = v?.valueFrom?.secretKeyRef;
    const data = ref ? ctx.secret(ref.name ?? '') : null;
    return data?.[ref?.key ?? ''] ?? '';
  };
  return { gateway: value('AIRUT_GATEWAY'), task: value('AIRUT_TASK'), token: value('AIRUT_GATEWAY_TOKEN') };
}

function request(env: PodEnv, which: 'in' | 'out', method: string, body: Buffer | null): Promise<{ status: number; body: Buffer }> {
  const [host, port] = [env.gateway.slice(0, env.gateway.lastIndexOf(':')), Number(env.gateway.slice(env.gateway.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: host.replace(/^\[|\]$/g, ''), port, method, path: `/airut-state/${env.task}/${env.token}/${which}`, headers: body ? { 'content-length': body.length } : {}, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}

/** Entries by path; directories and symlinks are kept with a null body (only files are compared). */
async function readTar(data: Buffer): Promise<Map<string, Buffer | null>> {
  const entries = new Map<string, Buffer | null>();
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        const p = header.name.replace(/^\.\//, '').replace(/\/$/, '');
        entries.set(p, header.type === 'file' ? Buffer.concat(chunks) : null);
        next();
      });
      stream.resume();
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  Readable.from([data]).pipe(extract);
  await done;
  return entries;
}

/** The four returned trees, files and directories, as pod-entry.sh's `tar -c` would send them. */
async function writeTar(entries: ReadonlyMap<string, Buffer | null>): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((resolve) => pack.on('end', resolve));
  const dirs = new Set(['workspace', 'claude', 'outbox', 'storage']);
  for (const top of dirs) pack.entry({ name: `${top}/`, type: 'directory', mode: 0o755 });
  for (const [p, body] of entries) {
    const top = p.split('/')[0]!;
    if (!dirs.has(top) || p === top) continue;
    for (let i = p.indexOf('/', top.length + 1); i > 0; i = p.indexOf('/', i + 1)) {
      const dir = p.slice(0, i);
      if (!entries.has(dir)) pack.entry({ name: `${dir}/`, type: 'directory', mode: 0o755 });
    }
    if (body === null) {
      if (entries.get(p) === null && ![...entries.keys()].some((k) => k.startsWith(`${p}/`))) pack.entry({ name: `${p}/`, type: 'directory', mode: 0o755 });
      continue;
    }
    pack.entry({ name: p, mode: 0o644 }, body);
  }
  pack.finalize();
  await ended;
  return Buffer.concat(chunks);
}

/** Stream-json lines of a successful run answering `text`, with a session id. */
export function successLines(sessionId: string, text: string): string[] {
  return [
    JSON.stringify({ type: 'system', subtype: 'init', session_id: sessionId, model: 'claude-sonnet', tools: [] }),
    JSON.stringify({ type: 'assistant', session_id: sessionId, message: { role: 'assistant', content: [{ type: 'text', text }] } }),
    JSON.stringify({ type: 'result', subtype: 'success', is_error: false, result: text, session_id: sessionId, total_cost_usd: 0.001, num_turns: 1, duration_ms: 5 }),
  ];
}
