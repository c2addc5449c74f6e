/**
 * Start-up work for the network sandbox, done once in the main thread before any task runs: the
 * CA, the key that derives masked-secret surrogates, the sidecar's root filesystem, and the
 * removal of per-task directories a crash left behind. The result travels to task-runner threads
 * as part of their globals.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ServerConfig } from '../config/types.ts';
import { AirutError } from '../errors.ts';
import { ensureCaFiles } from '../proxy/certificate-authority.ts';
import { prepareSidecarRuntime, sandboxStateDir } from './network-sidecar.ts';
import { cleanupSandboxLeftovers, type SandboxGlobals } from './task-network.ts';

export async function prepareSandbox(config: ServerConfig): Promise<{ globals: SandboxGlobals; leftovers: number }> {
  const stateDir = sandboxStateDir(config.global.databasePath);
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const caFiles = ensureCaFiles(path.join(stateDir, 'ca'));
  const surrogateKeyPath = ensureSurrogateKey(path.join(stateDir, 'surrogate.key'));
  const sidecar = await prepareSidecarRuntime(stateDir);
  const leftovers = await cleanupSandboxLeftovers(stateDir);
  return {
    globals: { stateDir, caFiles, surrogateKeyPath, sidecar, upstreamOverrides: config.global.network.upstreamOverrides },
    leftovers,
  };
}

/**
 * The surrogate key never changes once made: surrogates of running conversations stay valid
 * across restarts.
 */
function ensureSurrogateKey(file: string): string {
  if (fs.existsSync(file)) {
    if (fs.statSync(file).size < 32) throw new AirutError('SANDBOX_PREPARE_FAILED', `${file} is shorter than 32 bytes; delete it to make a new one`);
    return file;
  }
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, randomBytes(32), { mode: 0o600 });
  fs.renameSync(tmp, file);
  return file;
}
