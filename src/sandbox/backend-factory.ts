/**
 * The one place that turns the server configuration into an ExecutionBackend. It owns the choice
 * of runtime (`container_command`: podman or Docker) and the instance id that names and labels
 * this daemon's containers, so no caller outside src/sandbox/ names either.
 */
import type { ExecutionBackendKind, GlobalConfig } from '../config/types.ts';
import { AirutError } from '../errors.ts';
import { instanceId } from '../instance-id.ts';
import { ContainerBackend } from './container-backend.ts';
import { ContainerRuntime } from './container-runtime.ts';
import type { ExecutionBackend } from './execution-backend.ts';
import { KubernetesBackend } from './kubernetes/kubernetes-backend.ts';
import { kubernetesSettings, type KubernetesSettings } from './kubernetes/settings.ts';
import type { SandboxGlobals } from './task-network.ts';

/** What a backend is built from; structured-cloneable, so runner threads get it once in their workerData. */
export interface ExecutionSettings {
  /** `execution.backend`. */
  readonly backend: ExecutionBackendKind;
  /** Set exactly when `backend` is kubernetes (the configuration rules require the section then). */
  readonly kubernetes: KubernetesSettings | null;
  readonly containerCommand: string;
  readonly containerNetwork: 'default' | 'host';
  /** Derived from the database file: what owns the tasks the containers belong to. */
  readonly instance: string;
  readonly claudeBinaryPath: string;
  readonly maxConcurrent: number;
  /** Prepared by the daemon at start-up (prepare-sandbox.ts); null where no task runs (start-up reaping). */
  readonly sandbox: SandboxGlobals | null;
}

export function executionSettings(global: GlobalConfig, sandbox: SandboxGlobals | null = null): ExecutionSettings {
  const kube = global.backend === 'kubernetes' ? global.kubernetes : null;
  return {
    backend: global.backend,
    kubernetes: kube && kubernetesSettings(kube),
    containerCommand: global.containerCommand,
    containerNetwork: global.containerNetwork,
    instance: instanceId(global.databasePath),
    claudeBinaryPath: global.claude.binaryPath,
    maxConcurrent: global.maxConcurrent,
    sandbox,
  };
}

export function createExecutionBackend(settings: ExecutionSettings): ExecutionBackend {
  const runtime = new ContainerRuntime({ command: settings.containerCommand });
  if (settings.backend === 'kubernetes') {
    if (!settings.kubernetes) throw new AirutError('CONFIG_INVALID', 'execution.backend is kubernetes but the configuration has no kubernetes: section');
    // Images are still built (and pushed) with the local runtime; the tasks run on the cluster.
    return new KubernetesBackend({
      runtime,
      instance: settings.instance,
      claudeBinaryPath: settings.claudeBinaryPath,
      capacity: settings.maxConcurrent,
      settings: settings.kubernetes,
      sandbox: settings.sandbox,
    });
  }
  return new ContainerBackend({
    runtime,
    instance: settings.instance,
    containerNetwork: settings.containerNetwork,
    claudeBinaryPath: settings.claudeBinaryPath,
    capacity: settings.maxConcurrent,
    sandbox: settings.sandbox,
  });
}
