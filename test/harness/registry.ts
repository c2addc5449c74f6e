/**
 * A real OCI registry for tests: Debian's `docker-registry` (the CNCF distribution registry), one per
 * test file, on 127.0.0.1 and a free port, storing into a temp dir. scripts/ci-setup.sh installs the
 * package and keeps its system service off; this starts a private one from a generated config.
 *
 * It speaks plain HTTP, so podman pushes and pulls with `--tls-verify=false`; Docker treats
 * 127.0.0.0/8 registries as insecure by default. No system configuration is touched.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';

const REGISTRY_BIN = '/usr/bin/docker-registry';
const START_TIMEOUT_MS = 20_000;
/** "address in use" after freePort() released the port: another process took it; try another. */
const START_ATTEMPTS = 3;

function configYaml(dataDir: string, port: number): string {
  return `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${JSON.stringify(dataDir)}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${port}
`;
}

async function answersV2(address: string): Promise<boolean> {
  try {
    const res = await fetch(`http://${address}/v2/`, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

export class LocalRegistry {
  readonly address: string;
  readonly #dir: string;
  readonly #child: ChildProcess;
  #closing: Promise<void> | null = null;

  private constructor(address: string, dir: string, child: ChildProcess) {
    this.address = address;
    this.#dir = dir;
    this.#child = child;
  }

  static async start(): Promise<LocalRegistry> {
    if (!existsSync(REGISTRY_BIN)) {
      throw new Error(`${REGISTRY_BIN} is missing: apt-get install docker-registry (scripts/ci-setup.sh does)`);
    }
    const dir = await mkdtemp(join(tmpdir(), 'airut-registry-'));
    let lastError: unknown;
    for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
      const port = await freePort();
      const config = join(dir, `config-${port}.yml`);
      await writeFile(config, configYaml(join(dir, 'data'), port));
      const child = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
      const registry = new LocalRegistry(`127.0.0.1:${port}`, dir, child);
      try {
        await registry.#waitReady();
        return registry;
      } catch (err) {
        lastError = err;
        child.kill('SIGKILL');
      }
    }
    await rm(dir, { recursive: true, force: true });
    throw lastError;
  }

  /** Resolves once `GET /v2/` answers 200; rejects with the registry's stderr when it exits or never answers. */
  async #waitReady(): Promise<void> {
    let stderr = '';
    let exited: number | null | undefined;
    this.#child.stderr?.on('data', (c: Buffer) => {
      if (stderr.length < 8192) stderr += c.toString('utf8');
    });
    this.#child.once('exit', (code) => {
      exited = code;
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (exited !== undefined) throw new Error(`docker-registry exited (${exited}) on start: ${stderr.trim()}`);
      if (await answersV2(this.address)) return;
      if (Date.now() > deadline) throw new Error(`docker-registry did not answer GET /v2/ on ${this.address} within ${START_TIMEOUT_MS} ms: ${stderr.trim()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops the registry and removes its storage. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const child = this.#child;
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await gone;
        clearTimeout(timer);
      }
      await rm(this.#dir, { recursive: true, force: true });
    })();
    return this.#closing;
  }
}
