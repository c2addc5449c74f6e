/**
 * The build context of the tools image: `FROM scratch` with the static busybox, the Claude Code
 * binary and pod-entry.sh under /airut. A task pod runs it as its init container, which copies
 * /airut/* into an emptyDir the agent container mounts at /airut — so repository images never need
 * to contain Claude Code, a shell, tar or wget.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AirutError } from '../../errors.ts';

/** Path of src/sandbox/kubernetes/pod-entry.sh. */
export const POD_ENTRY_SCRIPT: string = fileURLToPath(new URL('./pod-entry.sh', import.meta.url));

const CONTAINERFILE = 'FROM scratch\nCOPY busybox claude pod-entry.sh /airut/\n';

async function copyTool(from: string, to: string, what: string): Promise<void> {
  const st = path.isAbsolute(from) ? await fs.stat(from).catch(() => null) : null;
  if (!st?.isFile()) throw new AirutError('KUBE_TOOLS_MISSING', `the ${what} for the Kubernetes tools image (${JSON.stringify(from)}) is missing, not an absolute path, or not a regular file`);
  await fs.copyFile(from, to);
  await fs.chmod(to, 0o755);
}

/** Build context (scratch + /airut/busybox + /airut/claude + /airut/pod-entry.sh) under dir; returns the dir. */
export async function writeToolsContext(dir: string, o: { busyboxPath: string; claudeBinaryPath: string }): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  await copyTool(o.busyboxPath, path.join(dir, 'busybox'), 'static busybox');
  await copyTool(o.claudeBinaryPath, path.join(dir, 'claude'), 'Claude Code binary');
  await copyTool(POD_ENTRY_SCRIPT, path.join(dir, 'pod-entry.sh'), 'pod entry script');
  await fs.writeFile(path.join(dir, 'Containerfile'), CONTAINERFILE);
  return dir;
}
