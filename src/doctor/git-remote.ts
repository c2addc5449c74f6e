/**
 * A repository's git remote, reached the way the mirror reaches it: the system git, as this
 * user, with prompts off (`git ls-remote`, which transfers no objects). Credentials in the URL
 * never appear in the output.
 */
import type { RepoServerConfig } from '../config/types.ts';
import { credentialsOf, redact, redactUrlCredentials } from '../git/redact.ts';
import { runGit, stderrTail } from '../git/run.ts';
import { fail, ok, seconds, warn, type CheckContext, type CheckResult, type DoctorCheck } from './types.ts';

function hostOf(url: string): string | null {
  const m = /^[a-z][a-z0-9+.-]*:\/\/(?:[^/@]*@)?([^/:?#]+)/i.exec(url) ?? /^(?:[^@/]+@)?([^:/]+):(?!\/)/.exec(url);
  return m?.[1] ?? null;
}

/** What git's stderr says, as a sentence an operator can act on. */
export function gitRemoteFix(repoId: string, url: string, stderr: string): string {
  const key = `repos.${repoId}.git.repo_url`;
  const host = hostOf(url) ?? 'HOST';
  if (/Host key verification failed/i.test(stderr)) {
    return `ssh does not know ${host}'s host key: as the user that runs the daemon, add it with \`ssh-keyscan ${host} >> ~/.ssh/known_hosts\` and compare the fingerprint with the one the host publishes`;
  }
  if (/Authentication failed|could not read (Username|Password)|terminal prompts disabled|Permission denied \(publickey|returned error: 40[13]|Invalid username or password/i.test(stderr)) {
    return `the remote refused the daemon's credentials: give the user that runs the daemon access (an ssh deploy key, or a credential helper for https) and run the doctor as that user; a token inside ${key} also works (it stays with the daemon: workspaces get the URL without it)`;
  }
  if (/Could not resolve host|Name or service not known|Temporary failure in name resolution/i.test(stderr)) {
    return `the host name in ${key} does not resolve: check its spelling and this machine's DNS`;
  }
  if (/Connection refused|Failed to connect|Connection timed out|No route to host|Network is unreachable/i.test(stderr)) {
    return `the git host cannot be reached from this machine: check ${key} (host and port) and the firewall`;
  }
  if (/does not appear to be a git repository|Repository not found|not found|does not exist|No such file/i.test(stderr)) {
    return `no repository at that address: check ${key} (for GitHub, also that the daemon's credentials can see a private repository)`;
  }
  return `check ${key}, and try \`git ls-remote <url>\` as the user that runs the daemon`;
}

/** git's own `fatal:`/`error:` lines when there are any (the rest is boilerplate), else the tail. */
function gitComplaint(stderr: string): string {
  const lines = stderr.split(/\r?\n/).filter((l) => /^(fatal|error|remote):/i.test(l.trim()));
  return lines.length > 0 ? stderrTail(lines.join('\n'), 300) : stderrTail(stderr, 300);
}

export async function checkGitRemote(repo: RepoServerConfig, ctx: CheckContext): Promise<CheckResult> {
  const name = `${repo.repoId}: git remote`;
  const url = repo.gitRepoUrl;
  const shown = redactUrlCredentials(url);
  const secrets = credentialsOf(url);
  // Leave the runner a moment to report a git that ignores its kill (an ssh child holding the pipe).
  const r = await runGit(['ls-remote', '--symref', '--', url, 'HEAD'], { timeoutMs: Math.max(100, ctx.timeoutMs - 200) });
  if (r.timedOut) {
    return fail(name, `git ls-remote ${shown} gave no answer within ${seconds(ctx.timeoutMs)}`, gitRemoteFix(repo.repoId, url, 'Connection timed out'));
  }
  if (r.code !== 0) {
    const said = redact(gitComplaint(r.stderr), secrets) || `git exited with ${r.code ?? r.signal}`;
    return fail(name, `git ls-remote ${shown} failed: ${said}`, gitRemoteFix(repo.repoId, url, r.stderr));
  }
  const out = r.stdout.toString('utf8');
  const branch = /^ref: refs\/heads\/(\S+)\s+HEAD$/m.exec(out)?.[1];
  if (!/^[0-9a-f]{40,64}\s+HEAD$/m.test(out)) {
    return warn(
      name,
      `${shown} is reachable but has no commits (no HEAD)`,
      'push the default branch with .airut/container/Dockerfile before sending tasks (docs/repository-setup.md)',
    );
  }
  return ok(name, `${shown} reachable${branch ? `, default branch ${branch}` : ''}`);
}

export function gitRemoteCheck(repo: RepoServerConfig): DoctorCheck {
  return {
    name: `${repo.repoId}: git remote`,
    timeoutFix: gitRemoteFix(repo.repoId, repo.gitRepoUrl, 'Connection timed out'),
    run: (ctx) => checkGitRemote(repo, ctx),
  };
}
