/**
 * Start-up work of the Kubernetes backend, done once in the main thread before any task runs: the
 * pod gateway (one port for every runner thread; it finds each task's token and proxy by path in
 * the sandbox state dir) and the tools image, published once so the runner threads do not each
 * hash, build and push it (the capacity bench found 13 threads doing that for minutes at 200 tasks).
 */
import type { Logger } from '../../log/logger.ts';
import type { ExecutionSettings } from '../backend-factory.ts';
import { createExecutionBackend } from '../backend-factory.ts';
import type { SandboxGlobals } from '../task-network.ts';
import { KubernetesBackend } from './kubernetes-backend.ts';
import { PodGateway } from './pod-gateway.ts';

export interface PreparedKubernetes {
  readonly gateway: PodGateway;
  /** The sandbox globals with the tools image set when it could be published. */
  readonly sandbox: SandboxGlobals;
}

/** Null when the backend is not kubernetes. A gateway that cannot listen fails the start-up; a tools image that cannot be published does not. */
export async function prepareKubernetes(settings: ExecutionSettings, sandbox: SandboxGlobals, log: Logger): Promise<PreparedKubernetes | null> {
  const kube = settings.kubernetes;
  if (settings.backend !== 'kubernetes' || !kube) return null;
  const gateway = await PodGateway.start({
    host: kube.gateway.listenHost,
    port: kube.gateway.listenPort,
    stateDir: sandbox.stateDir,
    maxStateBytes: kube.maxStateBytes,
    log: log.child({ component: 'pod-gateway' }),
  });
  log.info({ host: kube.gateway.listenHost, port: gateway.port, advertised: kube.gateway.advertiseAddress }, 'pod gateway listening');
  try {
    const backend = createExecutionBackend({ ...settings, sandbox });
    if (!(backend instanceof KubernetesBackend)) return { gateway, sandbox };
    const started = Date.now();
    const kubeToolsImage = await backend.toolsImage();
    log.info({ image: kubeToolsImage, ms: Date.now() - started }, 'tools image published for task pods');
    return { gateway, sandbox: { ...sandbox, kubeToolsImage } };
  } catch (err) {
    // The registry may be down now and up later: each runner thread tries again on its first task.
    log.error({ err: (err as Error).message }, 'could not publish the tools image at start-up; the first task of each runner thread tries again');
    return { gateway, sandbox };
  }
}
