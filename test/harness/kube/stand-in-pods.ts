/**
 * The kubelet of the stand-in: runs each created pod through a PodRunner and writes what happens into the pod's
 * status (phase, init/container states), enforces activeDeadlineSeconds, honours a delete's grace period, and keeps
 * each container's log for `pods/<name>/log` (served from the start, then followed until the container ends).
 */
import type { ServerResponse } from 'node:http';
import type { V1Pod } from '@kubernetes/client-node';
import type { PodRunner, PodRunResult } from './pod-runner.ts';
import type { KubeObject, ObjectStore } from './stand-in-store.ts';

interface ContainerLog { chunks: Buffer[]; started: boolean; ended: boolean; readonly followers: Set<ServerResponse> }

interface RunningPod {
  readonly pod: KubeObject;
  readonly abort: AbortController;
  readonly logs: Map<string, ContainerLog>;
  finished: boolean;
  runnerDone: Promise<void> | null;
  deadline: NodeJS.Timeout | null;
}

type State = Record<string, unknown>;
interface ContainerStatus { name: string; state: State; ready: boolean; restartCount: number; image: string; imageID: string }
interface PodStatus { phase: string; reason?: string; message?: string; startTime: string;
  initContainerStatuses: ContainerStatus[]; containerStatuses: ContainerStatus[] }

/** A refusal to serve a log: the status and the Status message the real server would give. */
export interface LogRefusal { readonly code: number; readonly reason: string; readonly message: string }

export class PodSimulation {
  readonly #store: ObjectStore;
  readonly #runner: () => PodRunner | null;
  readonly #secret: (name: string) => Record<string, string> | null;
  readonly #pods = new Map<string, RunningPod>();

  constructor(store: ObjectStore, runner: () => PodRunner | null, secret: (name: string) => Record<string, string> | null) {
    this.#store = store;
    this.#runner = runner;
    this.#secret = secret;
  }

  /** A pod was just created: status Pending, then the runner plays it. */
  start(pod: KubeObject): void {
    const spec = pod.spec as V1Pod['spec'];
    const waiting = (c: { name: string; image?: string }): ContainerStatus =>
      ({ name: c.name, state: { waiting: { reason: 'PodInitializing' } }, ready: false, restartCount: 0, image: c.image ?? '', imageID: '' });
    const status: PodStatus = { phase: 'Pending', startTime: new Date().toISOString(),
      initContainerStatuses: (spec?.initContainers ?? []).map(waiting), containerStatuses: (spec?.containers ?? []).map(waiting) };
    pod.status = status;
    const names = [...status.initContainerStatuses, ...status.containerStatuses].map((c) => c.name);
    const run: RunningPod = { pod, abort: new AbortController(), finished: false, runnerDone: null, deadline: null,
      logs: new Map(names.map((n) => [n, { chunks: [], started: false, ended: false, followers: new Set() }])) };
    const previous = this.#pods.get(pod.metadata.name);
    if (previous?.deadline) clearTimeout(previous.deadline);
    this.#pods.set(pod.metadata.name, run);
    const seconds = spec?.activeDeadlineSeconds;
    // Unreferenced: a pod's deadline must not keep a finished test process alive.
    if (typeof seconds === 'number') run.deadline = setTimeout(() => this.#deadlineExceeded(run), seconds * 1000).unref();
    const runner = this.#runner();
    if (runner) run.runnerDone = this.#play(run, runner);
  }

  /** Deletes a pod as the API server and kubelet do: at once when grace is 0 or nothing runs, else after the runner stops. */
  delete(name: string, graceSeconds: number | null): KubeObject | undefined {
    const run = this.#pods.get(name);
    const pod = this.#store.get('pod', name);
    if (!pod) return undefined;
    const spec = pod.spec as V1Pod['spec'];
    const grace = graceSeconds ?? spec?.terminationGracePeriodSeconds ?? 30;
    if (!run || run.finished || !run.runnerDone || grace === 0) {
      this.#remove(name);
      return pod;
    }
    if (pod.metadata.deletionTimestamp) return pod;
    pod.metadata.deletionTimestamp = new Date(Date.now() + grace * 1000).toISOString();
    pod.metadata.deletionGracePeriodSeconds = grace;
    this.#store.modified('pod', pod);
    run.abort.abort(new Error('pod deleted'));
    const timer = setTimeout(() => this.#remove(name), grace * 1000).unref();
    void run.runnerDone.then(() => {
      clearTimeout(timer);
      this.#remove(name);
    });
    return pod;
  }

  /** Serves a container's log; a refusal when the container is unknown or has not started. */
  serveLog(podName: string, container: string, follow: boolean, res: ServerResponse): LogRefusal | null {
    const run = this.#pods.get(podName);
    const log = run?.logs.get(container);
    if (!run || !log) return { code: 400, reason: 'BadRequest', message: `container ${container} is not valid for pod ${podName}` };
    if (!log.started) {
      return { code: 400, reason: 'BadRequest', message: `container "${container}" in pod "${podName}" is waiting to start: PodInitializing` };
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    for (const c of log.chunks) res.write(c);
    if (!follow || log.ended) {
      res.end();
      return null;
    }
    log.followers.add(res);
    res.on('close', () => log.followers.delete(res));
    return null;
  }

  /** activeDeadlineSeconds passes for this pod now. */
  exceedDeadline(name: string): void {
    const run = this.#pods.get(name);
    if (run) this.#deadlineExceeded(run);
  }

  /** Ends every open log follow abruptly (an API-server restart). */
  dropLogs(): void {
    for (const run of this.#pods.values()) for (const log of run.logs.values()) {
      for (const res of log.followers) res.destroy();
      log.followers.clear();
    }
  }

  /** Stops every runner and timer (server shutdown). */
  close(): void {
    for (const run of this.#pods.values()) {
      if (run.deadline) clearTimeout(run.deadline);
      run.abort.abort(new Error('stand-in closed'));
    }
    this.dropLogs();
  }

  async #play(run: RunningPod, runner: PodRunner): Promise<void> {
    let result: PodRunResult;
    try {
      result = await runner.run({
        pod: structuredClone(run.pod) as V1Pod,
        secret: this.#secret,
        log: (container, chunk) => this.#log(run, container, chunk),
        containerStarted: (container) => this.#started(run, container),
        waiting: (container, reason, message) => this.#waiting(run, container, reason, message),
        signal: run.abort.signal,
      });
    } catch (err) {
      const app = (run.pod.spec as V1Pod['spec'])?.containers[0]?.name ?? 'unknown';
      result = { container: app, exitCode: 1, reason: 'Error', message: `runner failed: ${(err as Error).message}` };
    }
    if (!run.finished) this.#finish(run, result);
  }

  #log(run: RunningPod, container: string, chunk: Buffer): void {
    const log = run.logs.get(container);
    if (!log || log.ended) return;
    log.started = true;
    log.chunks.push(Buffer.from(chunk));
    for (const res of log.followers) res.write(chunk);
  }

  #started(run: RunningPod, container: string): void {
    if (run.finished) return;
    const status = run.pod.status as PodStatus;
    const now = new Date().toISOString();
    const init = status.initContainerStatuses.find((c) => c.name === container);
    if (init) {
      init.state = { running: { startedAt: now } };
    } else {
      for (const c of status.initContainerStatuses) {
        if (!c.state.terminated) c.state = { terminated: { exitCode: 0, reason: 'Completed', finishedAt: now } };
        this.#endLog(run, c.name);
      }
      const app = status.containerStatuses.find((c) => c.name === container);
      if (app) Object.assign(app, { state: { running: { startedAt: now } }, ready: true });
      status.phase = 'Running';
    }
    const log = run.logs.get(container);
    if (log) log.started = true;
    this.#store.modified('pod', run.pod);
  }

  #waiting(run: RunningPod, container: string, reason: string, message: string | undefined): void {
    if (run.finished) return;
    const status = run.pod.status as PodStatus;
    const c = [...status.initContainerStatuses, ...status.containerStatuses].find((x) => x.name === container);
    if (!c) return;
    c.state = { waiting: { reason, ...(message ? { message } : {}) } };
    this.#store.modified('pod', run.pod);
  }

  #finish(run: RunningPod, result: PodRunResult): void {
    const status = run.pod.status as PodStatus;
    const now = new Date().toISOString();
    const all = [...status.initContainerStatuses, ...status.containerStatuses];
    const target = all.find((c) => c.name === result.container);
    if (target) {
      target.state = { terminated: { exitCode: result.exitCode, reason: result.reason ?? (result.exitCode === 0 ? 'Completed' : 'Error'),
        ...(result.message ? { message: result.message } : {}), finishedAt: now } };
      target.ready = false;
    }
    const isApp = status.containerStatuses.some((c) => c.name === result.container);
    status.phase = isApp && result.exitCode === 0 ? 'Succeeded' : 'Failed';
    this.#end(run);
  }

  #deadlineExceeded(run: RunningPod): void {
    if (run.finished) return;
    const status = run.pod.status as PodStatus;
    const now = new Date().toISOString();
    for (const c of [...status.initContainerStatuses, ...status.containerStatuses]) {
      if (c.state.running) c.state = { terminated: { exitCode: 137, reason: 'Error', finishedAt: now } };
    }
    Object.assign(status, { phase: 'Failed', reason: 'DeadlineExceeded', message: 'Pod was active on the node longer than the specified deadline' });
    this.#end(run);
    run.abort.abort(new Error('activeDeadlineSeconds exceeded'));
  }

  #end(run: RunningPod): void {
    run.finished = true;
    if (run.deadline) clearTimeout(run.deadline);
    for (const name of run.logs.keys()) this.#endLog(run, name);
    this.#store.modified('pod', run.pod);
  }

  #endLog(run: RunningPod, container: string): void {
    const log = run.logs.get(container);
    if (!log || log.ended) return;
    log.ended = true;
    for (const res of log.followers) res.end();
    log.followers.clear();
  }

  #remove(name: string): void {
    const run = this.#pods.get(name);
    if (run) {
      if (run.deadline) clearTimeout(run.deadline);
      for (const c of run.logs.keys()) this.#endLog(run, c);
      run.finished = true;
      this.#pods.delete(name);
    }
    this.#store.remove('pod', name);
  }
}
