/**
 * A schedule's trigger_command as a pod: the same pod as the agent's (same image, sandbox and
 * state), running `sh -c` in /workspace instead of Claude Code. Its log is the command's output,
 * stdout and stderr together (Kubernetes keeps one log per container), bounded as run-command.ts
 * bounds a container's.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { CommandOutcome, CommandRunRequest } from '../execution-backend.ts';
import type { KubeNetworkParts } from './kube-network.ts';
import { gatewayTaskPaths, writeGatewayToken } from './pod-gateway.ts';
import { runTaskPod } from './task-pod-run.ts';
import { packStateIn, type StateDirs } from './state-bundle.ts';
import { takeReturnedState } from './agent-pod.ts';
import type { PodDeps } from './task-pod-run.ts';

export async function runCommandPod(deps: PodDeps, request: CommandRunRequest, net: KubeNetworkParts | null, signal: AbortSignal): Promise<CommandOutcome> {
  if (signal.aborted) return { kind: 'cancelled' };
  const log = deps.log.child({ task: request.taskId, ...request.labels });
  const paths = gatewayTaskPaths(deps.stateDir, request.taskId);
  const token = net?.token ?? (await writeGatewayToken(deps.stateDir, request.taskId));
  // Only the workspace is the command's; the other state directories travel empty.
  const empty = await fs.mkdtemp(path.join(os.tmpdir(), 'airut-cmd-state-'));
  const dirs: StateDirs = { workspace: request.workspace, claudeState: empty, inbox: empty, outbox: empty, storage: empty };
  try {
    await packStateIn(dirs, { inputJsonl: '', args: [], command: request.command }, paths.stateIn);
    const chunks: Buffer[] = [];
    let kept = 0;
    let truncatedBytes = 0;
    const run = await runTaskPod(deps, 'command', request, {
      net,
      token,
      signal,
      log,
      onLog: (stream) =>
        stream.on('data', (chunk: Buffer) => {
          const room = Math.max(0, request.outputLimitBytes - kept);
          if (room > 0) chunks.push(chunk.subarray(0, room));
          kept += Math.min(room, chunk.length);
          truncatedBytes += Math.max(0, chunk.length - room);
        }),
    });
    // Only the workspace comes back: the other directories were empty stand-ins.
    const wsOnly = await fs.mkdtemp(path.join(os.tmpdir(), 'airut-cmd-returned-'));
    const returned = await takeReturnedState(deps, paths.stateOut, { ...dirs, claudeState: path.join(wsOnly, 'c'), outbox: path.join(wsOnly, 'o'), storage: path.join(wsOnly, 's'), inbox: path.join(wsOnly, 'i') }, log);
    await fs.rm(wsOnly, { recursive: true, force: true });
    const output = Buffer.concat(chunks).toString('utf8');
    if (run.cancelled) return { kind: 'cancelled' };
    const stderrTail = [run.failure, returned].filter((s): s is string => !!s).join('\n');
    if (run.timedOut) return { kind: 'timeout', output, truncatedBytes, stderrTail };
    // A refused workspace never counts as success: the agent would run on a workspace without the
    // command's changes. 125 is what a container runtime reports when the run itself failed.
    const exitCode = run.exitCode ?? (run.failure ? 125 : 1);
    return { kind: 'exited', exitCode: returned !== null && exitCode === 0 ? 125 : exitCode, output, truncatedBytes, stderrTail };
  } finally {
    await fs.rm(empty, { recursive: true, force: true });
    await Promise.all([paths.stateIn, paths.stateOut].map((f) => fs.rm(f, { force: true })));
  }
}
