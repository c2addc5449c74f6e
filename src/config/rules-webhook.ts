/**
 * Rules on `repos.<id>.webhook` the JSON schema cannot express: the URL is an absolute http(s)
 * URL without user info (credentials in a URL end up in logs and proxies; the signature is the
 * authentication), and the secret is long enough that its HMAC cannot be forged by guessing it.
 * Reads defensively, like rules.ts.
 */
import type { ConfigProblem } from '../errors.ts';
import { childPath, isRecord } from './object-path.ts';
import { webhookUrlProblem } from './webhook-url.ts';

/** 16 characters of `openssl rand -hex 32` are 64 bits; shorter keys are a typo or a placeholder. */
export const MIN_WEBHOOK_SECRET_LENGTH = 16;

export function checkWebhook(repo: Record<string, unknown>, repoPath: string, problems: ConfigProblem[]): void {
  const hook = repo.webhook;
  if (!isRecord(hook)) return;
  const path = childPath(repoPath, 'webhook');
  if (typeof hook.url === 'string' && hook.url !== '') {
    const problem = webhookUrlProblem(hook.url);
    if (problem) problems.push({ path: childPath(path, 'url'), message: problem });
  }
  if (typeof hook.secret === 'string' && hook.secret !== '' && hook.secret.length < MIN_WEBHOOK_SECRET_LENGTH) {
    problems.push({
      path: childPath(path, 'secret'),
      message: `must be at least ${MIN_WEBHOOK_SECRET_LENGTH} characters (for example from openssl rand -hex 32), given through !env`,
    });
  }
}
