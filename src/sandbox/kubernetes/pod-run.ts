/**
 * One task pod from creation to removal: its Secrets and NetworkPolicy first, then the pod; the pod
 * watched to its end (the watch survives API-server restarts and 410 Gone, see kube-api.ts); the
 * agent container's log handed to the caller as soon as the container has started; Stop and the
 * timeout delete the pod with a grace period (pod-entry.sh uses it to return the conversation state).
 * Whatever happens, everything created is deleted at the end; what a crash leaves, the start-up
 * reaper deletes by label.
 *
 * An API server that refuses (forbidden, quota, invalid) is not an exception here: it is the run's
 * `failure`, a sentence for the task's error, because the task did not run and its sender should
 * know why.
 */
import { PassThrough, type Readable } from 'node:stream';
import type { V1NetworkPolicy, V1Pod, V1Secret } from '@kubernetes/client-node';
import { AirutError } from '../../errors.ts';
import type { Logger } from '../../log/logger.ts';
import type { KubeApi, KubeKind } from './kube-api.ts';
import { AGENT_CONTAINER } from './task-objects.ts';

/** Seconds pod-entry.sh gets after SIGTERM to pack and return the state. */
export const POD_STOP_GRACE_SECONDS = 20;
/** How long after the pod ended the rest of its log may still arrive. */
const LOG_DRAIN_MS = 30_000;
/** First pause before following a log again after its connection dropped; doubled up to LOG_RETRY_MAX_MS. */
const LOG_RETRY_MS = 200;
const LOG_RETRY_MAX_MS = 5000;
/** Waiting reasons that will not resolve by waiting: the pod is given up on at once. */
const HOPELESS_WAITING = new Set(['ImagePullBackOff', 'ErrImageNeverPull', 'InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError']);

export interface PodRunSpec {
  readonly api: KubeApi;
  readonly pod: V1Pod;
  readonly secrets: readonly V1Secret[];
  readonly networkPolicy: V1NetworkPolicy | null;
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** Called once with the agent container's log, as soon as it can be followed. */
  readonly onLog: (log: Readable) => void;
}

export interface PodRunResult {
  /** The agent container's exit code; null when it never ended on its own. */
  readonly exitCode: number | null;
  readonly timedOut: boolean;
  readonly cancelled: boolean;
  /** Why the task could not run (refused by the API server, image not pullable, preparation failed); null otherwise. */
  readonly failure: string | null;
}

export async function runPod(spec: PodRunSpec): Promise<PodRunResult> {
  const created: Array<[KubeKind, string]> = [];
  const podName = spec.pod.metadata?.name ?? '';
  try {
    try {
      for (const secret of spec.secrets) {
        await spec.api.createSecret(secret);
        created.push(['secret', secret.metadata?.name ?? '']);
      }
      if (spec.networkPolicy) {
        await spec.api.createNetworkPolicy(spec.networkPolicy);
        created.push(['networkpolicy', spec.networkPolicy.metadata?.name ?? '']);
      }
      if (spec.signal.aborted) return { exitCode: null, timedOut: false, cancelled: true, failure: null };
      await spec.api.createPod(spec.pod);
      created.unshift(['pod', podName]);
    } catch (err) {
      if (err instanceof AirutError && (err.code === 'KUBE_API_REFUSED' || err.code === 'KUBE_API_UNREACHABLE')) {
        spec.log.error({ err: err.message }, 'the task pod could not be created');
        return { exitCode: null, timedOut: false, cancelled: false, failure: err.message };
      }
      throw err;
    }
    return await followPod(spec, podName);
  } finally {
    await Promise.all(
      created.map(([kind, name]) =>
        spec.api.delete(kind, name, 0).catch((err: Error) => {
          spec.log.warn({ err: err.message, kind, name }, 'could not delete a task object; the start-up reaper will');
        }),
      ),
    );
  }
}

/** Watches the pod to its end; Stop and the timeout delete it, and the end is still awaited. */
function followPod(spec: PodRunSpec, podName: string): Promise<PodRunResult> {
  return new Promise<PodRunResult>((resolve) => {
    const watch = new AbortController();
    const logAbort = new AbortController();
    let logDone: Promise<void> = Promise.resolve();
    let logStarted = false;
    let timedOut = false;
    let cancelled = false;
    let failure: string | null = null;
    let finished = false;
    let giveUp: NodeJS.Timeout | null = null;

    const finish = (exitCode: number | null): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      if (giveUp) clearTimeout(giveUp);
      spec.signal.removeEventListener('abort', onAbort);
      watch.abort();
      // The rest of the log may still be on its way; it is bounded, then cut.
      const drain = setTimeout(() => logAbort.abort(), LOG_DRAIN_MS);
      void logDone.finally(() => {
        clearTimeout(drain);
        resolve({ exitCode, timedOut, cancelled, failure });
      });
    };
    const stop = (why: 'timeout' | 'cancelled' | 'failed'): void => {
      if (finished) return;
      if (why === 'timeout' && !cancelled) timedOut = true;
      if (why === 'cancelled' && !timedOut) cancelled = true;
      if (giveUp) return;
      spec.log.warn({ reason: why, pod: podName }, 'deleting the task pod');
      spec.api.delete('pod', podName, POD_STOP_GRACE_SECONDS).catch((err: Error) => spec.log.warn({ err: err.message }, 'could not delete the task pod'));
      // An API server that does not answer must not keep the task forever.
      giveUp = setTimeout(() => finish(null), (POD_STOP_GRACE_SECONDS + 30) * 1000);
    };
    const onAbort = (): void => stop('cancelled');
    const timer = setTimeout(() => stop('timeout'), spec.timeoutMs);
    spec.signal.addEventListener('abort', onAbort, { once: true });
    if (spec.signal.aborted) onAbort();

    const startLog = (): void => {
      if (logStarted) return;
      logStarted = true;
      const out = new PassThrough();
      spec.onLog(out);
      logDone = followLogAcrossDrops(spec, podName, out, logAbort.signal).finally(() => out.end());
    };

    const onPod = (type: string, pod: V1Pod): void => {
      const status = pod.status;
      const agent = status?.containerStatuses?.find((c) => c.name === AGENT_CONTAINER);
      if (agent?.state?.running || agent?.state?.terminated) startLog();
      for (const c of [...(status?.initContainerStatuses ?? []), ...(status?.containerStatuses ?? [])]) {
        const waiting = c.state?.waiting;
        if (waiting?.reason && HOPELESS_WAITING.has(waiting.reason) && failure === null) {
          failure = `the task pod could not start its ${c.name === AGENT_CONTAINER ? 'agent' : 'preparation'} container: ${waiting.reason}${waiting.message ? ` (${waiting.message.slice(0, 500)})` : ''}`;
          stop('failed');
        }
        const term = c.state?.terminated;
        // A preparation the pod's deletion killed (a stop or the timeout, both ours) did not fail on its own.
        if (term && c.name !== AGENT_CONTAINER && term.exitCode !== 0 && failure === null && !cancelled && !timedOut) {
          failure = `the task pod's preparation (fetching the conversation state from the daemon) failed with exit code ${term.exitCode}${term.message ? `: ${term.message.slice(0, 500)}` : ''}`;
        }
      }
      if (status?.reason === 'DeadlineExceeded' && !cancelled) timedOut = true;
      const phase = status?.phase;
      if (type === 'DELETED' || phase === 'Succeeded' || phase === 'Failed') finish(agent?.state?.terminated?.exitCode ?? null);
    };
    spec.api
      .watchPod(podName, (e) => onPod(e.type, e.pod), watch.signal)
      .catch((err: Error) => {
        spec.log.error({ err: err.message }, 'watching the task pod failed');
        failure ??= `the task pod could not be watched: ${err.message}`;
        stop('failed');
      });
  });
}

/**
 * Follows the agent container's log into `out` until the container ends or `signal` aborts. A
 * connection that drops mid-way (an API-server restart, a load balancer's idle timeout) is followed
 * again: the server sends the log from the start, so the bytes already passed on are skipped, and
 * the caller sees one unbroken stream. A refusal (the pod is gone, forbidden) ends it.
 * (Byte offsets assume the kubelet still has the log's beginning; a rotated log would repeat or
 * skip a little, which the stream-json reader survives: it is line-oriented.)
 */
async function followLogAcrossDrops(spec: PodRunSpec, podName: string, out: PassThrough, signal: AbortSignal): Promise<void> {
  let passed = 0;
  let pause = LOG_RETRY_MS;
  while (!signal.aborted) {
    let stream: Readable;
    try {
      stream = await spec.api.followLog(podName, AGENT_CONTAINER, signal);
    } catch (err) {
      if (signal.aborted) return;
      if (!(err instanceof AirutError && err.code === 'KUBE_API_UNREACHABLE')) {
        spec.log.warn({ err: (err as Error).message }, "could not follow the agent container's log");
        return;
      }
      await sleep(pause, signal);
      pause = Math.min(pause * 2, LOG_RETRY_MAX_MS);
      continue;
    }
    let at = 0;
    const ended = await new Promise<boolean>((resolve) => {
      stream.on('data', (chunk: Buffer) => {
        const fresh = at + chunk.length > passed ? chunk.subarray(Math.max(0, passed - at)) : null;
        at += chunk.length;
        if (fresh && fresh.length > 0) {
          passed = at;
          out.write(fresh);
        }
      });
      stream.once('end', () => resolve(true));
      stream.once('error', () => resolve(false));
    });
    if (ended || signal.aborted) return;
    spec.log.warn({ pod: podName, bytes: passed }, "the agent container's log connection dropped; following it again");
    pause = LOG_RETRY_MS;
    await sleep(pause, signal);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
