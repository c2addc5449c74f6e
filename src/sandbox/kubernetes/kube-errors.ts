/**
 * Turns what the Kubernetes client throws into AirutErrors a person can act on.
 *
 * The client's own ApiException message carries the whole response body and headers; we never pass it on. The
 * message we build names the verb, the object and the namespace, and quotes only the API server's Status message
 * (truncated), so a refused Secret never puts its data into a log: the server's Status does not echo the body.
 */
import type { ApiException } from '@kubernetes/client-node';
import { kubeClientIfLoaded } from './client-module.ts';
import { AirutError } from '../../errors.ts';

/** The object a failed request was about, for the message. */
export interface KubeTarget {
  readonly verb: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
}

/** The fields of a Kubernetes Status object we read; anything else in the body is ignored. */
export interface KubeStatus {
  readonly code: number;
  readonly reason: string;
  readonly message: string;
}

const MAX_SERVER_MESSAGE = 500;

/** An error the generated client threw for an HTTP answer (only possible once the client is loaded). */
function isApiException(err: unknown): err is ApiException<unknown> {
  const client = kubeClientIfLoaded();
  return client !== null && err instanceof client.ApiException;
}

/** The HTTP status of a client error, or null when the request got no answer (connection refused, TLS, DNS). */
export function httpStatusOf(err: unknown): number | null {
  if (isApiException(err)) return err.code;
  if (err instanceof AirutError && err.code === 'KUBE_API_REFUSED') return (err as KubeRefusal).status;
  const code = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : null;
}

/** Reads a Status out of an error body (the client hands it over as text, or already parsed). */
export function parseStatus(body: unknown, fallbackCode: number): KubeStatus {
  let value = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      return { code: fallbackCode, reason: '', message: body.trim() };
    }
  }
  const o = (value ?? {}) as { code?: unknown; reason?: unknown; message?: unknown };
  return {
    code: typeof o.code === 'number' ? o.code : fallbackCode,
    reason: typeof o.reason === 'string' ? o.reason : '',
    message: typeof o.message === 'string' ? o.message : '',
  };
}

/** A refusal by the API server; `status` lets callers branch on 404/409/410 without parsing the message. */
export class KubeRefusal extends AirutError {
  readonly status: number;
  readonly reason: string;

  constructor(target: KubeTarget, status: KubeStatus) {
    const quota = status.code === 403 && /exceeded quota/i.test(status.message);
    const what = quota ? 'the namespace quota is exceeded' : `${status.code} ${status.reason || 'refused'}`;
    const text = status.message.length > MAX_SERVER_MESSAGE ? `${status.message.slice(0, MAX_SERVER_MESSAGE)}…` : status.message;
    super('KUBE_API_REFUSED',
      `${target.verb} ${target.kind} ${target.name} in namespace ${target.namespace} was refused by the Kubernetes API ` +
      `server (${what}): ${text || '(no message)'}`);
    this.status = status.code;
    this.reason = status.reason;
  }
}

/** The AirutError for any failure of a request about `target`. */
export function kubeError(target: KubeTarget, err: unknown): AirutError {
  if (err instanceof AirutError) return err;
  if (isApiException(err)) return new KubeRefusal(target, parseStatus(err.body, err.code));
  const status = httpStatusOf(err);
  if (status !== null) {
    // Requests made outside the generated client (log, watch) carry the Status text as `body` when they have it.
    const body = (err as { body?: unknown }).body;
    return new KubeRefusal(target, typeof body === 'string' ? parseStatus(body, status) : { code: status, reason: '', message: (err as Error).message });
  }
  return unreachable(target, err);
}

/** The API server did not answer: no HTTP status at all. */
export function unreachable(target: KubeTarget, err: unknown): AirutError {
  const cause = err as { message?: unknown; cause?: { message?: unknown; code?: unknown } } | null;
  const detail = [cause?.cause?.code, cause?.cause?.message ?? cause?.message].filter((x) => typeof x === 'string').join(' ');
  return new AirutError('KUBE_API_UNREACHABLE',
    `${target.verb} ${target.kind} ${target.name} in namespace ${target.namespace}: the Kubernetes API server could not ` +
    `be reached (${detail.slice(0, MAX_SERVER_MESSAGE) || 'no answer'}); check the kubeconfig's server address and the network`,
    { cause: err });
}
