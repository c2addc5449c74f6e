/**
 * Rules of the Kubernetes backend the JSON schema cannot express: the section is required by
 * `execution.backend: kubernetes`, names must be valid Kubernetes names, quantities must be
 * quantities, a request may not exceed its limit, and more than 64 concurrent tasks need a
 * cluster. Pure, and defensive like rules.ts: a value of the wrong type was reported by the schema.
 */
import { isIP } from 'node:net';
import type { ConfigProblem } from '../errors.ts';
import { isHost } from './network.ts';
import { childPath, isRecord } from './object-path.ts';
import { DEFAULT_CONTAINER_LIMITS } from './defaults.ts';
import { parseCpuQuantity, parseMemoryQuantity, podmanMemoryToQuantity, type QuantityResult } from './quantity.ts';

/** What one host runs at once; a larger `max_concurrent` is for a cluster. */
export const CONTAINER_MAX_CONCURRENT = 64;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
/** `host[:port]/path`, the path in the lower-case components an image reference allows. */
const REGISTRY = /^([A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?(\/[a-z0-9]+([._-]+[a-z0-9]+)*)*\/?$/;

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

export function isDnsLabel(s: string): boolean {
  return s.length <= 63 && DNS_LABEL.test(s);
}

export function isDnsSubdomain(s: string): boolean {
  return s.length <= 253 && DNS_SUBDOMAIN.test(s);
}

/** A label key: an optional DNS-subdomain prefix and `/`, then a name of at most 63 characters. */
export function isLabelKey(s: string): boolean {
  const slash = s.lastIndexOf('/');
  const name = slash < 0 ? s : s.slice(slash + 1);
  if (slash >= 0 && !isDnsSubdomain(s.slice(0, slash))) return false;
  return name.length <= 63 && LABEL_NAME.test(name);
}

/** A label value: empty, or at most 63 characters of letters, digits, `-`, `_` and `.`, alphanumeric at both ends. */
export function isLabelValue(s: string): boolean {
  return s === '' || (s.length <= 63 && LABEL_NAME.test(s));
}

/** A registry and path to push to: no scheme, no tag or digest. */
export function registryProblem(s: string): string | null {
  if (/^[a-z]+:\/\//i.test(s)) return `${JSON.stringify(s)} must not have a scheme; write it as registry.example.com/airut (registry_tls_verify says whether TLS is checked)`;
  if (s.includes('@') || /\/[^/]*:[^/]*$/.test(s)) return `${JSON.stringify(s)} must not carry a tag or digest: Airut tags and pins each image itself`;
  if (!REGISTRY.test(s)) return `${JSON.stringify(s)} must be a registry host with an optional port and path, such as registry.example.com/airut or 10.0.0.5:5000/airut (path in lower case)`;
  return null;
}

export function checkKubernetesRules(data: Record<string, unknown>, problems: ConfigProblem[]): void {
  const execution = isRecord(data.execution) ? data.execution : {};
  const backend = str(execution.backend) ?? 'container';
  const kube = data.kubernetes;
  if (backend === 'kubernetes' && (kube === undefined || kube === null)) {
    problems.push({
      path: 'kubernetes',
      message: 'is required with execution.backend: kubernetes; set at least namespace, registry and gateway.advertise_address (docs/configuration.md, "Kubernetes backend")',
    });
  }
  const max = execution.max_concurrent;
  // Above the schema's 1000 the schema has said all there is to say.
  if (backend !== 'kubernetes' && Number.isInteger(max) && (max as number) > CONTAINER_MAX_CONCURRENT && (max as number) <= 1000) {
    problems.push({
      path: 'execution.max_concurrent',
      message: `is ${max as number}; max_concurrent above ${CONTAINER_MAX_CONCURRENT} needs execution.backend: kubernetes: one host cannot run more containers`,
    });
  }
  if (isRecord(kube)) checkSection(kube, problems);
  const repos = data.repos;
  if (!isRecord(repos)) return;
  const top = isRecord(kube) ? kube.resources : undefined;
  for (const [id, repo] of Object.entries(repos)) {
    if (!isRecord(repo) || (!isRecord(repo.kubernetes) && !isRecord(top))) continue;
    const where = childPath(childPath(childPath('repos', id), 'kubernetes'), 'resources');
    const own = isRecord(repo.kubernetes) ? repo.kubernetes.resources : undefined;
    checkResources(own, where, problems, top, fallbackLimits(repo, data));
  }
}

/** Limits without a Kubernetes value are the repository's `resource_limits` (build-kubernetes.ts). */
function fallbackLimits(repo: Record<string, unknown>, data: Record<string, unknown>): Fallback {
  const pick = (key: string): unknown => {
    const own = isRecord(repo.resource_limits) ? repo.resource_limits[key] : undefined;
    return own !== undefined ? own : isRecord(data.resource_limits) ? data.resource_limits[key] : undefined;
  };
  const memory = str(pick('memory')) ?? DEFAULT_CONTAINER_LIMITS.memory;
  const cpus = pick('cpus');
  const memoryBytes = /^[0-9]+(\.[0-9]+)?[bkmgBKMG]?$/.test(memory) ? parseMemoryQuantity(podmanMemoryToQuantity(memory)) : undefined;
  return {
    cpu: typeof cpus === 'number' ? cpus : cpus === undefined ? DEFAULT_CONTAINER_LIMITS.cpus : undefined,
    memory: memoryBytes?.ok ? memoryBytes.value : undefined,
  };
}

type Fallback = { readonly cpu: number | undefined; readonly memory: number | undefined };

function checkSection(kube: Record<string, unknown>, problems: ConfigProblem[]): void {
  const namespace = str(kube.namespace);
  if (namespace && !isDnsLabel(namespace)) {
    problems.push({ path: 'kubernetes.namespace', message: `${JSON.stringify(namespace)} must be a Kubernetes namespace name: at most 63 lower-case letters, digits and -, starting and ending with a letter or digit` });
  }
  const registry = str(kube.registry);
  const problem = registry ? registryProblem(registry) : null;
  if (problem) problems.push({ path: 'kubernetes.registry', message: problem });
  const runtimeClass = str(kube.runtime_class);
  if (runtimeClass && !isDnsSubdomain(runtimeClass)) {
    problems.push({ path: 'kubernetes.runtime_class', message: `${JSON.stringify(runtimeClass)} must be a RuntimeClass name: lower-case letters, digits, - and ., such as gvisor` });
  }
  if (Array.isArray(kube.image_pull_secrets)) {
    kube.image_pull_secrets.forEach((name, i) => {
      if (typeof name === 'string' && name !== '' && !isDnsSubdomain(name)) {
        problems.push({ path: childPath('kubernetes.image_pull_secrets', i), message: `${JSON.stringify(name)} must be a Secret name: lower-case letters, digits, - and .` });
      }
    });
  }
  checkNodeSelector(kube.node_selector, problems);
  if (Array.isArray(kube.tolerations)) kube.tolerations.forEach((t, i) => isRecord(t) && checkToleration(t, childPath('kubernetes.tolerations', i), problems));
  const size = str(kube.state_size_limit);
  if (size) quantity(parseMemoryQuantity(size), 'kubernetes.state_size_limit', problems);
  if (isRecord(kube.gateway)) checkGateway(kube.gateway, problems);
  checkResources(kube.resources, 'kubernetes.resources', problems, undefined);
}

function checkNodeSelector(selector: unknown, problems: ConfigProblem[]): void {
  if (!isRecord(selector)) return;
  for (const [key, value] of Object.entries(selector)) {
    const where = childPath('kubernetes.node_selector', key);
    if (!isLabelKey(key)) problems.push({ path: where, message: `${JSON.stringify(key)} is not a label key: an optional prefix like example.com/ and a name of at most 63 letters, digits, -, _ and .` });
    else if (typeof value === 'string' && !isLabelValue(value)) {
      problems.push({ path: where, message: `${JSON.stringify(value)} is not a label value: at most 63 letters, digits, -, _ and ., starting and ending with a letter or digit` });
    }
  }
}

function checkToleration(t: Record<string, unknown>, where: string, problems: ConfigProblem[]): void {
  const key = str(t.key);
  const operator = str(t.operator) ?? 'Equal';
  if (key !== undefined && key !== '' && !isLabelKey(key)) problems.push({ path: childPath(where, 'key'), message: `${JSON.stringify(key)} is not a taint key (a label key such as example.com/gpu)` });
  if (key === undefined && operator !== 'Exists') problems.push({ path: childPath(where, 'key'), message: 'is required unless operator is Exists (which, without a key, tolerates every taint)' });
  if (operator === 'Exists' && t.value !== undefined && t.value !== '') problems.push({ path: childPath(where, 'value'), message: 'must be left out with operator Exists, which matches any value' });
  const value = str(t.value);
  if (operator === 'Equal' && value !== undefined && !isLabelValue(value)) problems.push({ path: childPath(where, 'value'), message: `${JSON.stringify(value)} is not a taint value (a label value)` });
  if (t.toleration_seconds !== undefined && t.effect !== 'NoExecute') {
    problems.push({ path: childPath(where, 'toleration_seconds'), message: 'applies only with effect NoExecute; set effect: NoExecute or leave it out' });
  }
}

function checkGateway(gateway: Record<string, unknown>, problems: ConfigProblem[]): void {
  const address = str(gateway.advertise_address);
  if (address && isIP(address.trim()) === 0) {
    problems.push({
      path: 'kubernetes.gateway.advertise_address',
      message: `${JSON.stringify(address)} must be an IP address such as 10.0.0.5 (pods reach the gateway without DNS, and their NetworkPolicy allows only this address)`,
    });
  }
  const host = str(gateway.listen_host);
  if (host && !isHost(host)) problems.push({ path: 'kubernetes.gateway.listen_host', message: 'must be a host name or IP address only, without scheme, port or path (the port goes in listen_port)' });
}

function quantity(result: QuantityResult, where: string, problems: ConfigProblem[]): number | undefined {
  if (result.ok) return result.value;
  problems.push({ path: where, message: result.problem });
  return undefined;
}

/**
 * Each quantity valid, and each request at most its limit, once the repository's keys are laid
 * over the top level's (`top`): the API server would refuse the pod at the first task otherwise.
 */
function checkResources(resources: unknown, where: string, problems: ConfigProblem[], top: unknown, fallback?: Fallback): void {
  if (!isRecord(resources) && !isRecord(top)) return;
  const own = isRecord(resources) ? resources : {};
  const inherited = isRecord(top) ? top : {};
  for (const kind of ['cpu', 'memory'] as const) {
    const parse = kind === 'cpu' ? parseCpuQuantity : parseMemoryQuantity;
    const read = (side: 'requests' | 'limits'): { value: number | undefined; mine: boolean } => {
      const mine = isRecord(own[side]) ? str(own[side][kind]) : undefined;
      if (mine !== undefined) return { value: quantity(parse(mine), childPath(childPath(where, side), kind), problems), mine: true };
      const theirs = isRecord(inherited[side]) ? str(inherited[side][kind]) : undefined;
      // The top level's own check reports a bad inherited value.
      const parsed = theirs === undefined ? undefined : parse(theirs);
      return { value: parsed?.ok ? parsed.value : undefined, mine: false };
    };
    const request = read('requests');
    const limit = read('limits');
    if (request.value === undefined) continue;
    if (limit.value !== undefined) {
      if (request.value > limit.value && (request.mine || limit.mine)) {
        problems.push({
          path: childPath(childPath(where, 'requests'), kind),
          message: `is more than limits.${kind}${limit.mine ? '' : ' (from kubernetes.resources)'}; a request may not exceed its limit`,
        });
      }
      continue;
    }
    // No Kubernetes limit anywhere: the pod's limit will be the repository's resource_limits.
    const inheritedLimit = fallback?.[kind];
    if (inheritedLimit !== undefined && request.value > inheritedLimit) {
      const podman = kind === 'cpu' ? 'cpus' : 'memory';
      problems.push({
        path: childPath(childPath(where, 'requests'), kind),
        message:
          `${request.mine ? 'is' : '(from kubernetes.resources) is'} more than the limit this repository's pods get from resource_limits.${podman}; ` +
          `set kubernetes.resources.limits.${kind} or raise resource_limits.${podman}`,
      });
    }
  }
}
