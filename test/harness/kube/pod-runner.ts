/**
 * What runs a pod's containers in the Kubernetes stand-in (Part C's file; this copy holds only the
 * interface so Part E compiles — the lead keeps Part C's version).
 */
import type { V1Pod } from '@kubernetes/client-node';

export interface PodRunContext {
  readonly pod: V1Pod;
  readonly secret: (name: string) => Record<string, string> | null; // decoded Secret data by name
  readonly log: (container: string, chunk: Buffer) => void; // served as that container's log (follow)
  readonly containerStarted: (container: string) => void; // status → running, MODIFIED event
  readonly signal: AbortSignal; // aborted on delete or activeDeadlineSeconds
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
export class ScriptedPodRunner implements PodRunner {
  readonly #script: (ctx: PodRunContext) => Promise<PodRunResult>;
  constructor(script: (ctx: PodRunContext) => Promise<PodRunResult>) {
    this.#script = script;
  }
  run(ctx: PodRunContext): Promise<PodRunResult> {
    return this.#script(ctx);
  }
}
