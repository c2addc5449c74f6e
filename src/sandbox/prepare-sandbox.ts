/**
 * Start-up work for the network sandbox, done once in the main thread before any task runs: the
 * CA, the sidecar's root filesystem, and the removal of per-task directories a crash left behind. The result travels to task-runner threads
 * as part of their globals.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ServerConfig } from '../config/types.ts';
import { ensureCaFiles } from '../proxy/certificate-authority.ts';
import { prepareSidecarRuntime, sandboxStateDir } from './network-sidecar.ts';
import { cleanupSandboxLeftovers, type SandboxGlobals } from './task-network.ts';

export async function prepareSandbox(config: ServerConfig): Promise<{ globals: SandboxGlobals; leftovers: number }> {
  const stateDir = sandboxStateDir(config.global.databasePath);
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const caFiles = ensureCaFiles(path.join(stateDir, 'ca'));
  const sidecar = await prepareSidecarRuntime(stateDir);
  const leftovers = await cleanupSandboxLeftovers(stateDir);
  return {
    globals: { stateDir, caFiles, sidecar, upstreamOverrides: config.global.network.upstreamOverrides },
    leftovers,
  };
}
