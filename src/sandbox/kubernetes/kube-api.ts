/**
 * The few Kubernetes API calls the backend makes, over the official client, in one namespace.
 *
 * Why a wrapper: every failure becomes an AirutError with a message naming the verb and the object (the client's
 * own errors dump the response headers and body), 404 becomes a value where the caller expects "already gone", and
 * every request is counted (the bench compares API load between designs).
 */
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import type { CoreV1Api, KubeConfig, NetworkingV1Api, V1NetworkPolicy, V1Pod, V1Secret } from '@kubernetes/client-node';
import { kubeClient } from './client-module.ts';
import { AirutError } from '../../errors.ts';
import { httpStatusOf, kubeError, type KubeTarget } from './kube-errors.ts';
import { followContainerLog } from './pod-log.ts';
import { watchOnePod, type PodWatchEvent } from './pod-watch.ts';

export type { PodWatchEvent } from './pod-watch.ts';

/** Where the cluster is. A null kubeconfig path means in-cluster (the pod's service account). */
export interface KubeConnection {
  readonly kubeconfigPath: string | null;
  readonly context: string | null;
  readonly namespace: string;
}

export type KubeKind = 'pod' | 'secret' | 'networkpolicy';

type Verb = 'create' | 'get' | 'list' | 'delete' | 'watch' | 'log';

export class KubeApi {
  readonly #config: KubeConfig;
  readonly #core: CoreV1Api;
  readonly #net: NetworkingV1Api;
  readonly #ns: string;
  readonly #byVerb: Record<string, number> = {};
  #total = 0;

  private constructor(config: KubeConfig, namespace: string) {
    this.#config = config;
    const { CoreV1Api, NetworkingV1Api } = kubeClient();
    this.#core = config.makeApiClient(CoreV1Api);
    this.#net = config.makeApiClient(NetworkingV1Api);
    this.#ns = namespace;
  }

  /** Loads the kubeconfig file (or the in-cluster service account); throws CONFIG_INVALID saying what is wrong. */
  static connect(c: KubeConnection): KubeApi {
    return new KubeApi(loadConfig(c), c.namespace);
  }

  /** API requests made so far, in total and by verb (create, get, list, delete, watch, log). */
  get calls(): { readonly total: number; readonly byVerb: Readonly<Record<string, number>> } {
    return { total: this.#total, byVerb: { ...this.#byVerb } };
  }

  createPod(pod: V1Pod): Promise<V1Pod> {
    return this.#call('create', 'pod', pod.metadata?.name, () => this.#core.createNamespacedPod({ namespace: this.#ns, body: pod }));
  }

  createSecret(s: V1Secret): Promise<V1Secret> {
    return this.#call('create', 'secret', s.metadata?.name, () => this.#core.createNamespacedSecret({ namespace: this.#ns, body: s }));
  }

  createNetworkPolicy(p: V1NetworkPolicy): Promise<V1NetworkPolicy> {
    return this.#call('create', 'networkpolicy', p.metadata?.name,
      () => this.#net.createNamespacedNetworkPolicy({ namespace: this.#ns, body: p }));
  }

  /** The pod, or null when it does not exist. */
  async readPod(name: string): Promise<V1Pod | null> {
    try {
      return await this.#call('get', 'pod', name, () => this.#core.readNamespacedPod({ name, namespace: this.#ns }));
    } catch (err) {
      if (httpStatusOf(err) === 404) return null;
      throw err;
    }
  }

  /** Deletes one object in the background; false when it was already gone. */
  async delete(kind: KubeKind, name: string, graceSeconds?: number): Promise<boolean> {
    const args = { name, namespace: this.#ns, gracePeriodSeconds: graceSeconds, propagationPolicy: 'Background' };
    try {
      await this.#call('delete', kind, name, (): Promise<unknown> => {
        if (kind === 'pod') return this.#core.deleteNamespacedPod(args);
        if (kind === 'secret') return this.#core.deleteNamespacedSecret(args);
        return this.#net.deleteNamespacedNetworkPolicy(args);
      });
      return true;
    } catch (err) {
      if (httpStatusOf(err) === 404) return false;
      throw err;
    }
  }

  /** Names and labels of the objects of one kind matching a label selector. */
  async list(kind: KubeKind, labelSelector: string): Promise<Array<{ name: string; labels: Record<string, string> }>> {
    const args = { namespace: this.#ns, labelSelector };
    const list = await this.#call('list', kind, `(selector ${labelSelector})`, (): Promise<{ items: Array<V1Pod | V1Secret | V1NetworkPolicy> }> => {
      if (kind === 'pod') return this.#core.listNamespacedPod(args);
      if (kind === 'secret') return this.#core.listNamespacedSecret(args);
      return this.#net.listNamespacedNetworkPolicy(args);
    });
    return list.items.map((o) => ({ name: o.metadata?.name ?? '', labels: { ...(o.metadata?.labels ?? {}) } }));
  }

  /**
   * Watches one pod until the signal aborts. A dropped connection resumes from the last resourceVersion; a 410 Gone
   * re-lists the pod, reports it, and watches again from the list's resourceVersion.
   */
  watchPod(name: string, onEvent: (e: PodWatchEvent) => void, signal: AbortSignal): Promise<void> {
    return watchOnePod({
      config: this.#config,
      namespace: this.#ns,
      name,
      count: () => this.#count('watch'),
      relist: async () => {
        const list = await this.#call('list', 'pod', name,
          () => this.#core.listNamespacedPod({ namespace: this.#ns, fieldSelector: `metadata.name=${name}` }));
        return { pod: list.items[0] ?? null, resourceVersion: list.metadata?.resourceVersion ?? '' };
      },
      refused: (err) => kubeError(this.#target('watch', 'pod', name), err),
    }, onEvent, signal);
  }

  /** Follows a container's log from its start; the stream ends when the container ends or the signal aborts. */
  followLog(podName: string, container: string, signal: AbortSignal): Promise<Readable> {
    this.#count('log');
    return followContainerLog(this.#config, { namespace: this.#ns, pod: podName, container }, signal,
      (err) => kubeError(this.#target('get log of', 'pod', `${podName} (container ${container})`), err));
  }

  #target(verb: string, kind: string, name: string | undefined): KubeTarget {
    return { verb, kind, name: name ?? '(unnamed)', namespace: this.#ns };
  }

  #count(verb: Verb): void {
    this.#total += 1;
    this.#byVerb[verb] = (this.#byVerb[verb] ?? 0) + 1;
  }

  async #call<T>(verb: Verb, kind: KubeKind, name: string | undefined, request: () => Promise<T>): Promise<T> {
    this.#count(verb);
    try {
      return await request();
    } catch (err) {
      throw kubeError(this.#target(verb, kind, name), err);
    }
  }
}

function loadConfig(c: KubeConnection): KubeConfig {
  const config = new (kubeClient().KubeConfig)();
  if (c.kubeconfigPath === null) {
    if (!process.env.KUBERNETES_SERVICE_HOST || !process.env.KUBERNETES_SERVICE_PORT) {
      throw new AirutError('CONFIG_INVALID', 'kubernetes: no kubeconfig is set and the daemon is not running in a pod ' +
        '(KUBERNETES_SERVICE_HOST/PORT are unset); set kubernetes.kubeconfig');
    }
    config.loadFromCluster();
    return config;
  }
  try {
    fs.accessSync(c.kubeconfigPath, fs.constants.R_OK);
    config.loadFromFile(c.kubeconfigPath);
  } catch (err) {
    throw new AirutError('CONFIG_INVALID', `kubernetes: the kubeconfig ${c.kubeconfigPath} could not be read: ${(err as Error).message}`);
  }
  if (c.context !== null) {
    if (!config.getContextObject(c.context)) {
      const known = config.getContexts().map((x) => x.name).join(', ') || 'none';
      throw new AirutError('CONFIG_INVALID', `kubernetes: the kubeconfig ${c.kubeconfigPath} has no context "${c.context}" (it has: ${known})`);
    }
    config.setCurrentContext(c.context);
  }
  if (!config.getCurrentCluster()) {
    throw new AirutError('CONFIG_INVALID', `kubernetes: the kubeconfig ${c.kubeconfigPath} names no cluster for its current context`);
  }
  return config;
}
