/**
 * Images for pods. The repository's image is built on the daemon's host exactly as for podman (same
 * content-hash tag, same reuse and age rules), then pushed to `kubernetes.registry`; pods pull it by
 * digest, so a tag moved in the registry can never change what a task runs. The tools image (busybox,
 * the Claude Code binary, pod-entry.sh) is built and pushed the same way, once per content, so
 * repository images never need Claude Code in them.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ContainerRuntime } from '../container-runtime.ts';
import type { ImageSpec } from '../execution-backend.ts';
import { ensureImage, type EnsuredImage } from '../image.ts';
import { publishImage } from './image-publish.ts';
import { writeToolsContext } from './tools-image.ts';

/** Where busybox-static puts its binary on Debian and Ubuntu; the tools image needs a static one. */
export const DEFAULT_BUSYBOX = '/bin/busybox';

export interface KubeImagesOptions {
  readonly runtime: ContainerRuntime;
  readonly instance: string;
  readonly registry: string;
  readonly tlsVerify: boolean;
  readonly claudeBinaryPath: string;
  readonly busyboxPath?: string;
}

export class KubeImages {
  readonly #o: KubeImagesOptions;
  /** Pushes by local tag: one push per image and thread, shared by concurrent tasks. */
  readonly #pushed = new Map<string, Promise<string>>();
  #tools: Promise<string> | null = null;

  constructor(options: KubeImagesOptions) {
    this.#o = options;
  }

  /** Builds (or reuses) the repository's image and returns it with its pullable digest reference as the tag. */
  async ensure(spec: ImageSpec): Promise<EnsuredImage> {
    const built = await ensureImage({
      runtime: this.#o.runtime,
      contextDir: spec.contextDir,
      repoId: spec.repoId,
      labels: { instance: this.#o.instance },
      onTag: spec.onTag,
      buildTimeoutMs: spec.buildTimeoutMs,
      maxAgeHours: spec.maxAgeHours,
    });
    // A rebuilt image has the same tag and new content: it must be pushed again.
    if (built.built) this.#pushed.delete(built.tag);
    return { ...built, tag: await this.#publish(built.tag) };
  }

  /** The tools image's digest reference, built and pushed on first use. */
  toolsImage(): Promise<string> {
    this.#tools ??= this.#buildTools().catch((err: unknown) => {
      this.#tools = null;
      throw err;
    });
    return this.#tools;
  }

  async #buildTools(): Promise<string> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'airut-tools-'));
    try {
      await writeToolsContext(dir, { busyboxPath: this.#o.busyboxPath ?? DEFAULT_BUSYBOX, claudeBinaryPath: this.#o.claudeBinaryPath });
      const built = await ensureImage({ runtime: this.#o.runtime, contextDir: dir, repoId: 'tools', labels: { instance: this.#o.instance } });
      return await this.#publish(built.tag);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }

  #publish(localTag: string): Promise<string> {
    let pushed = this.#pushed.get(localTag);
    if (!pushed) {
      pushed = publishImage(this.#o.runtime, { localTag, registry: this.#o.registry, tlsVerify: this.#o.tlsVerify }).then((p) => p.digestRef);
      pushed.catch(() => this.#pushed.delete(localTag));
      this.#pushed.set(localTag, pushed);
    }
    return pushed;
  }
}
