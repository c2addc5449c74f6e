/**
 * What "runs" a pod in the stand-in API server: a test supplies a PodRunner that plays the containers (logs lines,
 * says when a container started, returns an exit code). The stand-in turns that into pod status changes and watch
 * events as a kubelet would.
 */
import type { V1Pod } from '@kubernetes/client-node';

export interface PodRunContext {
  readonly pod: V1Pod;
  /** Decoded Secret data by name (null when there is no such Secret). */
  readonly secret: (name: string) => Record<string, string> | null;
  /** Served as that container's log (follow). */
  readonly log: (container: string, chunk: Buffer) => void;
  /** The container is running now: status → running, a MODIFIED event. */
  readonly containerStarted: (container: string) => void;
  /** The container is waiting for a reason (ImagePullBackOff, CreateContainerConfigError…): a MODIFIED event. */
  readonly waiting: (container: string, reason: string, message?: string) => void;
  /** Aborted on delete or when activeDeadlineSeconds passes. */
  readonly signal: AbortSignal;
}

export interface PodRunResult {
  readonly container: string;
  readonly exitCode: number;
  readonly reason?: string;
  readonly message?: string;
}

export interface PodRunner {
  run(ctx: PodRunContext): Promise<PodRunResult>;
}

/** A runner written inline by a test. */
export class ScriptedPodRunner implements PodRunner {
  readonly #script: (ctx: PodRunContext) => Promise<PodRunResult>;

  constructor(script: (ctx: PodRunContext) => Promise<PodRunResult>) {
    this.#script = script;
  }

  run(ctx: PodRunContext): Promise<PodRunResult> {
    return this.#script(ctx);
  }
}
