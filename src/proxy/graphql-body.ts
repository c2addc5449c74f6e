/**
 * The proxy's GraphQL stage: for a request that a `url_prefixes` entry with a `graphql` block
 * admitted, read the body (at most GRAPHQL_MAX_BODY_BYTES, so the check sees exactly the bytes
 * that will go upstream), check it (graphql-operations.ts) and either hand the buffered body on or
 * say why it is refused. Requests under other rules never come here and keep streaming.
 */
import type http from 'node:http';
import { ALLOWLIST_PATH } from './allowlist.ts';
import { checkGraphqlRequest, GRAPHQL_MAX_BODY_BYTES, type GraphqlVerdict } from './graphql-operations.ts';
import type { GraphqlRule } from './graphql-rule.ts';

export type GraphqlScreen =
  | { readonly allowed: true; readonly body: Buffer; readonly tag: string }
  | { readonly allowed: false; readonly verdict: GraphqlVerdict }
  /** The client went away before its body arrived: nothing to answer. */
  | { readonly allowed: false; readonly aborted: true };

/** Reads the request's body (or stops at the cap) and checks it with the query string. */
export async function screenGraphqlRequest(req: http.IncomingMessage, pathAndQuery: string, rule: GraphqlRule): Promise<GraphqlScreen> {
  const body = await readCapped(req, GRAPHQL_MAX_BODY_BYTES);
  if (body === 'aborted') return { allowed: false, aborted: true };
  if (body === 'too-large') {
    return { allowed: false, verdict: { allowed: false, detail: '<too-large>', reason: `the request body is over ${GRAPHQL_MAX_BODY_BYTES} bytes, the most the GraphQL check reads` } };
  }
  const q = pathAndQuery.indexOf('?');
  const encoding = req.headers['content-encoding'];
  const verdict = checkGraphqlRequest({ search: q === -1 ? '' : pathAndQuery.slice(q + 1), body, ...(encoding ? { contentEncoding: encoding } : {}) }, rule);
  return verdict.allowed ? { allowed: true, body, tag: verdict.tag ?? '' } : { allowed: false, verdict };
}

/**
 * The body, or 'too-large' as soon as more than `limit` bytes were announced or arrived (the rest
 * is left for the caller to drain), or 'aborted'.
 */
function readCapped(req: http.IncomingMessage, limit: number): Promise<Buffer | 'too-large' | 'aborted'> {
  const announced = Number(req.headers['content-length']);
  if (Number.isFinite(announced) && announced > limit) return Promise.resolve('too-large');
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (result: Buffer | 'too-large' | 'aborted') => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onAbort);
      req.off('close', onClose);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.pause();
        done('too-large');
      } else chunks.push(chunk);
    };
    const onEnd = () => done(Buffer.concat(chunks, size));
    const onAbort = () => done('aborted');
    const onClose = () => {
      if (!req.complete) done('aborted');
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onAbort);
    req.on('close', onClose);
  });
}

/** The 403 body for a refused GraphQL request: what was refused, and which list to change. */
export function graphqlBlockedBody(verdict: GraphqlVerdict, rule: string): string {
  const entry = /^url_prefixes\[\d+\]/.exec(rule)?.[0] ?? 'the url_prefixes entry';
  const lines = [`Blocked by the airut network sandbox: GraphQL request refused: ${verdict.reason ?? 'it could not be checked'} [${verdict.detail ?? ''}].`, ''];
  if (verdict.detail?.startsWith('<')) {
    lines.push(
      `Requests admitted by ${entry} (${rule}) are checked operation by operation. Send one JSON`,
      'object {"query": "...", "operationName": ..., "variables": {...}} (or a list of them), uncompressed,',
      `at most ${GRAPHQL_MAX_BODY_BYTES} bytes, with the full query text and every fragment it uses.`,
    );
  } else {
    const list = verdict.detail?.endsWith(':<blocked>') ? verdict.detail.slice(0, -':<blocked>'.length) : verdict.tag?.split('/')[0];
    const key = list === 'mutation' ? 'mutations' : list === 'subscription' ? 'subscriptions' : 'queries';
    lines.push(
      `To allow it, add the field name (or a pattern such as "create*") to ${entry}.graphql.${key}`,
      `in ${ALLOWLIST_PATH} and have the change reviewed and merged into the default branch;`,
      'it applies to the next task. Editing the file in this workspace has no effect on the running sandbox.',
    );
  }
  return `${lines.join('\n')}\n`;
}
