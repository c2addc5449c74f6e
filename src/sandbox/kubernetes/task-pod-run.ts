/**
 * What the agent's and the trigger command's pods share: their objects built from the request
 * (task-pod-input.ts, task-objects.ts) and run to the end (pod-run.ts). The NetworkPolicy is created
 * only for a sandboxed network: without the sandbox the pod has the namespace's own network.
 */
import type { Readable } from 'node:stream';
import type { Logger } from '../../log/logger.ts';
import type { ExtraMount, TaskNetwork } from '../execution-backend.ts';
import type { KubeApi } from './kube-api.ts';
import type { KubeNetworkParts } from './kube-network.ts';
import { runPod, type PodRunResult } from './pod-run.ts';
import type { KubernetesSettings } from './settings.ts';
import { podFiles, taskObjectsInput, type PodRequestParts } from './task-pod-input.ts';
import { buildTaskObjects } from './task-objects.ts';

export interface PodDeps {
  readonly api: KubeApi;
  readonly settings: KubernetesSettings;
  readonly instance: string;
  readonly stateDir: string;
  readonly toolsImage: string;
  readonly log: Logger;
}

export interface TaskPodRequest extends Omit<PodRequestParts, 'kind' | 'sandboxEnv'> {
  readonly network: TaskNetwork;
  readonly extraMounts?: readonly ExtraMount[];
}

export async function runTaskPod(
  deps: PodDeps,
  kind: PodRequestParts['kind'],
  request: TaskPodRequest,
  o: { readonly net: KubeNetworkParts | null; readonly token: string; readonly signal: AbortSignal; readonly log: Logger; readonly onLog: (log: Readable) => void },
): Promise<PodRunResult> {
  const files = await podFiles(request.extraMounts ?? [], o.net);
  const objects = buildTaskObjects(
    taskObjectsInput(deps.settings, { instance: deps.instance, toolsImage: deps.toolsImage, token: o.token, net: o.net, files }, { ...request, kind, sandboxEnv: request.network.env }),
  );
  return runPod({
    api: deps.api,
    pod: objects.pod,
    secrets: [objects.secret, ...(objects.filesSecret ? [objects.filesSecret] : [])],
    networkPolicy: request.network.sandboxed ? objects.networkPolicy : null,
    timeoutMs: request.timeoutMs,
    signal: o.signal,
    log: o.log,
    onLog: o.onLog,
  });
}
