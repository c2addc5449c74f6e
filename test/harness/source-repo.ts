/**
 * A git repository set up the way a user would onboard one: `.airut/airut.yaml` and
 * `.airut/container/` (the scratch test image) committed on `main`. The daemon's `repo_url`
 * points at it with a file:// URL.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildTestImageContext } from './test-image.ts';
import { exitTempDir } from './temp-dirs.ts';

const run = promisify(execFile);

export interface SourceRepo {
  readonly dir: string;
  readonly url: string;
  /** Writes files (relative paths) and commits them on main. */
  commit(files: Record<string, string>, message?: string): Promise<void>;
}

async function writeFileIn(dir: string, rel: string, content: string): Promise<void> {
  const file = path.join(dir, rel);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, content);
}

async function git(dir: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('git', ['-C', dir, ...args], {
    env: { ...process.env, GIT_AUTHOR_NAME: 'Test', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 'Test', GIT_COMMITTER_EMAIL: 't@example.com' },
  });
  return stdout;
}

/** The CLI settings every test repo passes to the container, from the daemon's secrets pool. */
export const CLI_CONTAINER_ENV = `container_env:
  ANTHROPIC_BASE_URL: !secret ANTHROPIC_BASE_URL
  ANTHROPIC_API_KEY: !secret ANTHROPIC_API_KEY
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1"
  DISABLE_AUTOUPDATER: "1"
  CLAUDE_CODE_MAX_RETRIES: "0"
`;

/**
 * `containerContext` replaces the test image's context (a 30 MB rootfs) for runs that build an image
 * but never start it, so the workspace every task clones and ships is the size of a real project.
 */
export async function createSourceRepo(airutYaml: string, extraFiles: Record<string, string> = {}, containerContext?: Record<string, string>): Promise<SourceRepo> {
  const dir = exitTempDir('airut-source-');
  await git(dir, 'init', '-q', '-b', 'main');
  if (containerContext === undefined) await buildTestImageContext(path.join(dir, '.airut', 'container'));
  else for (const [name, content] of Object.entries(containerContext)) await writeFileIn(path.join(dir, '.airut', 'container'), name, content);
  const repo: SourceRepo = {
    dir,
    url: `file://${dir}`,
    async commit(files, message = 'update') {
      for (const [rel, content] of Object.entries(files)) await writeFileIn(dir, rel, content);
      await git(dir, 'add', '-A');
      await git(dir, 'commit', '-q', '-m', message);
    },
  };
  await repo.commit({ '.airut/airut.yaml': airutYaml, 'README.md': '# test repo\n', ...extraFiles }, 'onboard');
  return repo;
}
