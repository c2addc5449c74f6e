/**
 * A watch on one pod that survives the API server: watch connections end all the time (server timeouts, restarts,
 * load balancers), and a resourceVersion can be compacted away (410 Gone). A task's pod must be followed to its end
 * regardless, so this loop resumes from the last resourceVersion it saw, and after a 410 re-lists the pod (the list's
 * resourceVersion is current, unlike the pod's own, which may be older than the compaction) and reports it.
 */
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';
import { kubeClient } from './client-module.ts';
import { httpStatusOf } from './kube-errors.ts';

export interface PodWatchEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly pod: V1Pod;
}

export interface PodWatchDeps {
  readonly config: KubeConfig;
  readonly namespace: string;
  readonly name: string;
  /** Counts one watch request. */
  readonly count: () => void;
  /** Lists the pod by name: the pod (null when gone) and the list's resourceVersion. */
  readonly relist: () => Promise<{ pod: V1Pod | null; resourceVersion: string }>;
  /** The error to reject with when the server refuses the watch itself (403 and the like). */
  readonly refused: (err: unknown) => Error;
}

const FIRST_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 5000;

/** How one watch connection ended. */
type Ending = { kind: 'ended'; sawEvents: boolean } | { kind: 'gone' } | { kind: 'refused'; err: unknown };

/** Watches until the signal aborts; rejects only when the server refuses to let us watch at all. */
export async function watchOnePod(deps: PodWatchDeps, onEvent: (e: PodWatchEvent) => void, signal: AbortSignal): Promise<void> {
  const state = { resourceVersion: undefined as string | undefined, last: null as V1Pod | null };
  let backoff = FIRST_BACKOFF_MS;
  let recovering = false;
  while (!signal.aborted) {
    if (recovering) {
      const recovered = await recover(deps, state, onEvent).catch(() => false);
      if (recovered) recovering = false;
    }
    const ending = recovering ? { kind: 'ended' as const, sawEvents: false } : await watchOnce(deps, state, onEvent, signal);
    if (signal.aborted) return;
    if (ending.kind === 'refused') throw deps.refused(ending.err);
    if (ending.kind === 'gone') {
      recovering = true;
      continue; // no pause: the re-list is the answer the server asked for
    }
    backoff = ending.sawEvents ? FIRST_BACKOFF_MS : backoff;
    await pause(backoff, signal);
    backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
  }
}

/** After a 410: report the pod as it is now (or its deletion) and continue from the list's resourceVersion. */
async function recover(deps: PodWatchDeps, state: { resourceVersion: string | undefined; last: V1Pod | null }, onEvent: (e: PodWatchEvent) => void): Promise<boolean> {
  const { pod, resourceVersion } = await deps.relist();
  state.resourceVersion = resourceVersion || undefined;
  if (pod) {
    state.last = pod;
    onEvent({ type: 'MODIFIED', pod });
  } else if (state.last) {
    onEvent({ type: 'DELETED', pod: state.last });
    state.last = null;
  }
  return true;
}

function watchOnce(deps: PodWatchDeps, state: { resourceVersion: string | undefined; last: V1Pod | null },
  onEvent: (e: PodWatchEvent) => void, signal: AbortSignal): Promise<Ending> {
  return new Promise<Ending>((resolve) => {
    let sawEvents = false;
    let gone = false;
    let controller: AbortController | null = null;
    const stop = (): void => controller?.abort();
    signal.addEventListener('abort', stop, { once: true });
    const finish = (ending: Ending): void => {
      signal.removeEventListener('abort', stop);
      resolve(ending);
    };
    const onObject = (type: string, obj: unknown): void => {
      if (type === 'ERROR') {
        // The server ends a watch it cannot serve with one ERROR event carrying a Status; 410 means "re-list".
        if ((obj as { code?: unknown } | null)?.code === 410) gone = true;
        stop();
        return;
      }
      if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED') return; // BOOKMARK and the like
      const pod = obj as V1Pod;
      sawEvents = true;
      if (pod.metadata?.resourceVersion) state.resourceVersion = pod.metadata.resourceVersion;
      state.last = type === 'DELETED' ? null : pod;
      onEvent({ type, pod });
    };
    const onDone = (err: unknown): void => {
      const status = httpStatusOf(err);
      if (gone || status === 410) finish({ kind: 'gone' });
      else if (status !== null && status !== 500 && status !== 503 && status !== 504 && status !== 429) finish({ kind: 'refused', err });
      else finish({ kind: 'ended', sawEvents });
    };
    deps.count();
    const query = { fieldSelector: `metadata.name=${deps.name}`, resourceVersion: state.resourceVersion, allowWatchBookmarks: true };
    new (kubeClient().Watch)(deps.config).watch(`/api/v1/namespaces/${deps.namespace}/pods`, query, onObject, onDone)
      .then((c) => {
        controller = c;
        if (signal.aborted) c.abort();
      }, () => finish({ kind: 'ended', sawEvents: false }));
  });
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
