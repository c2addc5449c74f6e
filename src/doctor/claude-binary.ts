/**
 * The Claude Code binary that is mounted into every task container: present, executable, and
 * able to start (`--version`) — a truncated download or a binary for another libc fails here
 * rather than in the first task.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { printable } from '../email/text.ts';
import { fail, ok, seconds, type CheckContext, type CheckResult, type DoctorCheck } from './types.ts';

const NAME = 'claude binary';
const REINSTALL = 'run `npm ci` in the install directory to restore the pinned @anthropic-ai/claude-code-linux-x64 package, or point claude.binary at a working Claude Code binary';

function run(file: string, args: string[], ctx: CheckContext, home: string): Promise<{ code: number | null; stdout: string; stderr: string; error?: NodeJS.ErrnoException & { killed?: boolean } }> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        timeout: ctx.timeoutMs,
        signal: ctx.signal,
        encoding: 'utf8',
        maxBuffer: 1024 * 1024,
        // A throwaway HOME: the doctor must not leave Claude Code state in the operator's home.
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' },
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, stdout, stderr, ...(error ? { error: error as NodeJS.ErrnoException & { killed?: boolean } } : {}) });
      },
    );
  });
}

export async function checkClaudeBinary(binaryPath: string, ctx: CheckContext): Promise<CheckResult> {
  try {
    if (!statSync(binaryPath).isFile()) return fail(NAME, `${binaryPath} is not a regular file`, REINSTALL);
  } catch {
    return fail(NAME, `${binaryPath} does not exist`, REINSTALL);
  }
  try {
    accessSync(binaryPath, constants.X_OK);
  } catch {
    return fail(NAME, `${binaryPath} is not executable`, `chmod +x ${binaryPath}, or ${REINSTALL}`);
  }
  const home = mkdtempSync(path.join(os.tmpdir(), 'airut-doctor-claude-'));
  try {
    const r = await run(binaryPath, ['--version'], ctx, home);
    if (r.error?.killed || r.error?.name === 'AbortError') {
      return fail(NAME, `${binaryPath} --version did not finish within ${seconds(ctx.timeoutMs)}`, REINSTALL);
    }
    if (r.code !== 0) {
      const said = printable(r.stderr || r.stdout || r.error?.message || '', 200);
      return fail(NAME, `${binaryPath} --version failed (exit ${r.code ?? r.error?.code ?? '?'}): ${said}`, `the binary needs Linux x64 with glibc; ${REINSTALL}`);
    }
    return ok(NAME, `${binaryPath}: ${printable(r.stdout, 80)}`);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

export function claudeBinaryCheck(binaryPath: string): DoctorCheck {
  return { name: NAME, timeoutFix: REINSTALL, run: (ctx) => checkClaudeBinary(binaryPath, ctx) };
}
