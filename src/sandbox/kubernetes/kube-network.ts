/**
 * The network of a task's pod. The sandbox is the same conversation proxy as with podman (allowlist,
 * masked secrets, network log), listening on the task's unix sockets in the daemon's state dir; what
 * changes is the way in: a pod cannot reach a unix socket, so it talks to the daemon's pod gateway
 * (pod-gateway.ts, one TCP port in the main thread), which checks the task's token and pipes the
 * connection to this proxy. The NetworkPolicy the backend creates lets the pod reach that port only.
 *
 * The proxy URL carries the token, so it travels in the task's Secret, never in the pod spec: anyone
 * allowed to read pods in the namespace could otherwise use another task's allowlist and secrets.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { CertificateAuthority } from '../../proxy/certificate-authority.ts';
import { ConversationProxy } from '../../proxy/conversation-proxy.ts';
import type { SandboxedNetworkRequest } from '../execution-backend.ts';
import { CONTAINER_CA_PATH, NetworkLogWriter, type SandboxGlobals, type TaskNetwork } from '../task-network.ts';
import { gatewayTaskPaths, writeGatewayToken } from './pod-gateway.ts';

/** The network value of a pod's TaskNetwork; the runner only displays it. */
export const KUBE_NETWORK = 'kubernetes';

/** What the backend needs beyond the TaskNetwork to set the pod up. */
export interface KubeNetworkParts {
  readonly taskId: number;
  /** The gateway token of the task (state bundle and proxy). */
  readonly token: string;
  /** Secret variables: the proxy URLs with the token. Empty when the sandbox is off. */
  readonly secretEnv: Readonly<Record<string, string>>;
  /** Files the pod gets under /etc/airut (the proxy's CA certificate), by file name. */
  readonly files: Readonly<Record<string, string>>;
}

export interface KubeGatewayAddress {
  readonly address: string;
  readonly port: number;
}

/** `host:port` as a URL authority (IPv6 in brackets). */
export function gatewayAuthority(g: KubeGatewayAddress): string {
  return g.address.includes(':') ? `[${g.address}]:${g.port}` : `${g.address}:${g.port}`;
}

/** The unrestricted network of a repository with the sandbox off: no proxy, no NetworkPolicy. */
export function unsandboxedKubeNetwork(): TaskNetwork {
  return { sandboxed: false, network: KUBE_NETWORK, extraArgs: [], env: {}, close: async () => undefined };
}

export async function openKubeNetwork(
  request: SandboxedNetworkRequest,
  globals: SandboxGlobals,
  gateway: KubeGatewayAddress,
): Promise<{ network: TaskNetwork; parts: KubeNetworkParts }> {
  const paths = gatewayTaskPaths(globals.stateDir, request.taskId);
  await fs.rm(paths.dir, { recursive: true, force: true });
  const token = await writeGatewayToken(globals.stateDir, request.taskId);
  const writer = new NetworkLogWriter(request);
  let proxy: ConversationProxy | null = null;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await proxy?.close().catch((err: Error) => request.log.warn({ err: err.message }, 'could not close the sandbox proxy'));
    writer.close();
    await fs.rm(paths.dir, { recursive: true, force: true }).catch((err: Error) => {
      request.log.warn({ err: err.message, dir: paths.dir }, 'could not remove the task sandbox directory; the start-up cleanup will');
    });
  };
  try {
    proxy = await ConversationProxy.start({
      socketDir: path.dirname(paths.proxySocket),
      allowlist: request.allowlist,
      masks: request.masks,
      ...(request.signing ? { signing: request.signing } : {}),
      ca: CertificateAuthority.load(globals.caFiles),
      upstreamOverrides: globals.upstreamOverrides,
      onRequest: (e) => writer.add(e),
    });
    const proxyUrl = `http://task-${request.taskId}:${token}@${gatewayAuthority(gateway)}`;
    const secretEnv: Record<string, string> = {};
    for (const name of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy']) secretEnv[name] = proxyUrl;
    const env: Record<string, string> = { AIRUT_NETWORK_SANDBOX: '1', NO_PROXY: 'localhost,127.0.0.1,::1', no_proxy: 'localhost,127.0.0.1,::1' };
    for (const name of ['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'GIT_SSL_CAINFO', 'PIP_CERT']) {
      env[name] = CONTAINER_CA_PATH;
    }
    const ca = await fs.readFile(globals.caFiles.certPath, 'utf8');
    return {
      network: { sandboxed: true, network: KUBE_NETWORK, extraArgs: [], env, close },
      parts: { taskId: request.taskId, token, secretEnv, files: { [path.basename(CONTAINER_CA_PATH)]: ca } },
    };
  } catch (err) {
    await close();
    throw err;
  }
}
