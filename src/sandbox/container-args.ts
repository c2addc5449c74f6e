/**
 * The `run` flags every container of a task gets, the agent's and a schedule's trigger command's
 * alike: its name and labels, the isolation (every capability dropped and only the repository's
 * configured few added back, no new privileges, memory, CPU and pids limits), its network, and its variables (the task's through the env file, never argv; the
 * sandbox's own with `-e`, after the file, so a task variable cannot override them). One place, so
 * a second kind of container cannot drift from the agent's sandbox. Pure apart from validation.
 */
import { isAbsolute } from 'node:path';
import { AirutError } from '../errors.ts';
import type { ContainerRuntime } from './container-runtime.ts';
import { formatEnvFile } from './env-file.ts';
import { managedLabels } from './labels.ts';

export interface ResourceLimits {
  /** `--memory`, e.g. `2g`. */
  readonly memory: string;
  /** `--cpus`, e.g. `1` or `1.5`. */
  readonly cpus: string;
  /** `--pids-limit`. */
  readonly pids: number;
}

export const DEFAULT_LIMITS: ResourceLimits = { memory: '2g', cpus: '1', pids: 512 };

/**
 * The capabilities a repository may add back (`capabilities` in the server configuration; the
 * schema refuses others, this is the last check). They let an image's own tools change file owners
 * and modes or switch users (package managers, `chown` in build scripts), as in Airut's default set.
 * Anything that reaches past the container (NET_ADMIN, NET_RAW, SYS_ADMIN, SYS_PTRACE, SYS_MODULE,
 * ...) would let the agent leave the network sandbox or the container, so it is never allowed.
 */
export const ALLOWED_CAPABILITIES: ReadonlySet<string> = new Set([
  'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT',
]);

/** Container limits from the configuration's `resource_limits` (cpus is a number there). */
export function limitsFromConfig(c: { readonly memory: string; readonly cpus: number; readonly pidsLimit: number }): ResourceLimits {
  return { memory: c.memory, cpus: String(c.cpus), pids: c.pidsLimit };
}

export const SAFE_ARG = /^[A-Za-z0-9][A-Za-z0-9._:@/[\]-]*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function invalidSpec(message: string): AirutError {
  return new AirutError('SANDBOX_SPEC_INVALID', message);
}

export interface ContainerBase {
  readonly runtime: ContainerRuntime;
  readonly name: string;
  readonly image: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly limits: ResourceLimits;
  /** `default`: the runtime's default network; `none`; or a network name. */
  readonly network: 'none' | 'default' | (string & {});
  /** Added back after `--cap-drop=ALL`; each must be in ALLOWED_CAPABILITIES. Default none. */
  readonly capabilities?: readonly string[];
}

/** `--name`, labels, isolation and network. */
export function isolationArgs(spec: ContainerBase): string[] {
  if (!SAFE_ARG.test(spec.name)) throw invalidSpec(`container name "${spec.name}" is not valid`);
  if (!SAFE_ARG.test(spec.image)) throw invalidSpec(`image "${spec.image}" is not valid`);
  if (!/^[0-9]+(\.[0-9]+)?[bkmg]?$/i.test(spec.limits.memory)) throw invalidSpec(`memory limit "${spec.limits.memory}"`);
  if (!/^[0-9]+(\.[0-9]+)?$/.test(spec.limits.cpus)) throw invalidSpec(`cpu limit "${spec.limits.cpus}"`);
  if (!Number.isInteger(spec.limits.pids) || spec.limits.pids <= 0) throw invalidSpec(`pids limit ${spec.limits.pids}`);
  const args = ['--name', spec.name, ...(spec.runtime.replacesOnRun ? ['--replace'] : []), ...spec.runtime.labelArgs(managedLabels(spec.labels))];
  args.push('--cap-drop=ALL', ...capabilityArgs(spec.capabilities ?? []), '--security-opt', 'no-new-privileges');
  args.push('--memory', spec.limits.memory, '--cpus', spec.limits.cpus, '--pids-limit', String(spec.limits.pids));
  if (spec.network !== 'default') {
    if (!SAFE_ARG.test(spec.network)) throw invalidSpec(`network "${spec.network}" is not valid`);
    args.push('--network', spec.network);
  }
  return args;
}

function capabilityArgs(capabilities: readonly string[]): string[] {
  for (const c of capabilities) {
    if (!ALLOWED_CAPABILITIES.has(c)) {
      throw invalidSpec(`capability "${c}" may not be added to a task container; allowed: ${[...ALLOWED_CAPABILITIES].join(', ')} (server configuration key repos.<id>.capabilities)`);
    }
  }
  return [...new Set(capabilities)].map((c) => `--cap-add=${c}`);
}

/**
 * The task's variables go to the env file (`envFileText`); the sandbox's own win over a task
 * variable of the same name and go on argv (they are not secret); `reserved` names are refused.
 */
export function envArgs(
  env: Readonly<Record<string, string>>,
  sandboxEnv: Readonly<Record<string, string>>,
  envFilePath: string,
  reserved: ReadonlySet<string> = new Set(),
): { args: string[]; envFileText: string } {
  const own: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (Object.prototype.hasOwnProperty.call(sandboxEnv, name)) continue;
    if (reserved.has(name)) throw invalidSpec(`environment variable "${name}" is reserved (the sandbox sets it)`);
    own[name] = value;
  }
  const envFileText = formatEnvFile(own);
  // podman splits a list flag's value at commas.
  if (!isAbsolute(envFilePath) || /[,\n\0]/.test(envFilePath)) throw invalidSpec(`env file path "${envFilePath}" must be absolute, without ',' or a newline`);
  // `-e` flags after it win over the file: the sandbox's own variables cannot be overridden.
  const args = ['--env-file', envFilePath];
  for (const [name, value] of Object.entries(sandboxEnv)) {
    if (!ENV_NAME.test(name) || /[\n\0]/.test(value)) throw invalidSpec(`sandbox environment variable "${name}" is not valid`);
    args.push('-e', `${name}=${value}`);
  }
  return { args, envFileText };
}
