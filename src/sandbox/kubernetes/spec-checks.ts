/**
 * Checks on the values a task's Kubernetes objects are built from. The API server would refuse most
 * of these too, but only after the Secret and policy exist, with a message about a field path; a
 * check here names the configuration value instead. Pure. Messages never quote a variable's value
 * (it may be a secret).
 */
import { isIP } from 'node:net';
import { AirutError } from '../../errors.ts';
import { ALLOWED_CAPABILITIES } from '../container-args.ts';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Kubernetes quantities (`500m`, `1.5`, `2Gi`, `1e3`), the serialization the API server accepts. */
const QUANTITY = /^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|[KMGTPE]i|[mkMGTPE])?$/;
/** `registry/name@sha256:<64 hex>`: pods pull repository and tools images by digest, never by a movable tag. */
const DIGEST_REF = /^[a-z0-9]([a-z0-9._:/-]*[a-z0-9])?@sha256:[0-9a-f]{64}$/;

function invalid(message: string): AirutError {
  return new AirutError('SANDBOX_SPEC_INVALID', message);
}

/** `where` says which map the name came from (`secret variable`, `sandbox variable`). */
export function checkEnvName(name: string, where: string): void {
  if (!ENV_NAME.test(name)) throw invalid(`${where} name ${JSON.stringify(name)} is not a valid environment variable name (letters, digits and _, not starting with a digit)`);
}

export function checkQuantity(value: string, where: string): void {
  if (!QUANTITY.test(value)) throw invalid(`${where} ${JSON.stringify(value)} is not a Kubernetes quantity (e.g. 500m, 2, 512Mi, 4Gi)`);
}

export function checkImageByDigest(ref: string, where: string): void {
  if (!DIGEST_REF.test(ref)) throw invalid(`${where} ${JSON.stringify(ref)} is not an image reference by digest (registry/name@sha256:<64 hex>)`);
}

export function checkCapabilities(capabilities: readonly string[]): string[] {
  for (const c of capabilities) {
    if (!ALLOWED_CAPABILITIES.has(c)) {
      throw invalid(`capability "${c}" may not be added to a task pod; allowed: ${[...ALLOWED_CAPABILITIES].join(', ')} (server configuration key repos.<id>.capabilities)`);
    }
  }
  return [...new Set(capabilities)];
}

export interface Gateway { readonly address: string; readonly port: number }

/** The gateway as the pod reaches it: `host:port` (IPv6 in brackets) and the /32 or /128 it may reach. */
export function gatewayEndpoint(g: Gateway): { hostPort: string; cidr: string } {
  const family = isIP(g.address);
  if (family === 0) throw invalid(`pod gateway address ${JSON.stringify(g.address)} is not an IPv4 or IPv6 literal (kubernetes.gateway.advertise_address); pods reach it by IP, without DNS`);
  if (!Number.isInteger(g.port) || g.port < 1 || g.port > 65535) throw invalid(`pod gateway port ${String(g.port)} is not a TCP port (1-65535)`);
  return family === 4
    ? { hostPort: `${g.address}:${g.port}`, cidr: `${g.address}/32` }
    : { hostPort: `[${g.address}]:${g.port}`, cidr: `${g.address}/128` };
}
