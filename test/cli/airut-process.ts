/**
 * The real `airut` command (bin/airut) as a child process, for tests whose servers run in the test
 * process: never blocks it, lets the test feed stdin and wait for a line on stdout.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { PROJECT_ROOT } from '../harness/daemon-process.ts';

export interface AirutRun {
  /** Resolves when stdout matches; rejects when the command exits first. */
  waitFor(pattern: RegExp): Promise<void>;
  /** What it printed on stdout so far. */
  output(): string;
  readonly done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

export function runAirut(args: readonly string[], o: { env?: Record<string, string | undefined>; input?: string } = {}): AirutRun {
  const env = { ...process.env, AIRUT_TOKEN: undefined, AIRUT_URL: undefined, AIRUT_CONFIG: undefined, ...o.env };
  const child = spawn(path.join(PROJECT_ROOT, 'bin/airut'), [...args], { cwd: PROJECT_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: Array<{ pattern: RegExp; resolve: () => void; reject: (e: Error) => void }> = [];
  const check = (): void => {
    for (const w of [...waiters]) {
      if (w.pattern.test(stdout)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout.setEncoding('utf8').on('data', (c: string) => ((stdout += c), check()));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  child.stdin.end(o.input ?? '');
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      for (const w of waiters.splice(0)) w.reject(new Error(`airut exited (${code}) before printing ${w.pattern}:\n${stdout}\n${stderr}`));
      resolve({ code, stdout, stderr });
    });
  });
  return {
    waitFor: (pattern) =>
      new Promise<void>((resolve, reject) => {
        if (pattern.test(stdout)) return resolve();
        if (child.exitCode !== null) return reject(new Error(`airut exited before printing ${pattern}`));
        waiters.push({ pattern, resolve, reject });
      }),
    output: () => stdout,
    done,
  };
}
