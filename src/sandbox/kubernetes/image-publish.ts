/**
 * Publishes a locally built image to the registry the cluster pulls from, and names it by digest.
 *
 * Pods pull `registry/name@sha256:…`, never a tag: a tag can be moved (by a later push, or by anyone
 * with write access to the registry) between the moment the daemon pushed and the moment a node
 * pulls, and a digest cannot. The digest is the one the registry stored, as the runtime reports it
 * after the push — podman writes it to `--digestfile`; Docker has no such flag and records it in the
 * image's RepoDigests instead. The local image id is not used: registries recompress layers, so the
 * pushed manifest's digest differs from anything computed locally.
 *
 * TLS: podman takes `--tls-verify=false` per command, so an insecure registry needs no edit of the
 * system's registries.conf. Docker decides in its daemon (`insecure-registries`, and 127.0.0.0/8 is
 * insecure by default); `tlsVerify: false` cannot be passed to `docker push` and is the operator's
 * daemon setting there.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AirutError } from '../../errors.ts';
import { tailLines, type ContainerRuntime } from '../container-runtime.ts';

/** Lines of the runtime's stderr a failed push's error carries. */
const PUSH_STDERR_LINES = 8;
/** A push of a large image over a slow link can take long; none the less it must end. */
const DEFAULT_PUSH_TIMEOUT_MS = 30 * 60_000;

/** `host[:port]` or `[ipv6]:port`, optionally followed by a path (`registry.example.com/team`). No scheme, no user info. */
const REGISTRY_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;
/** A repository path component as the distribution spec allows it (lower case). */
const NAME_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

export interface PublishOptions {
  /** The local image, as it was built (`airut-repo:abc123`; podman's `localhost/` prefix is accepted). */
  readonly localTag: string;
  /** Where to push: `host[:port][/path]`. */
  readonly registry: string;
  /** False for a registry without (valid) TLS; podman only, see the header. */
  readonly tlsVerify: boolean;
  readonly timeoutMs?: number;
}

export interface PublishedImage {
  /** `<registry>/<name>:<tag>`, the reference that was pushed. */
  readonly remote: string;
  /** `<registry>/<name>@sha256:<64 hex>`, what a pod pulls. */
  readonly digestRef: string;
}

/** Splits a local tag into repository name and tag (`latest` when none); refuses what cannot name a remote image. */
export function splitLocalTag(localTag: string): { name: string; tag: string } {
  const bare = localTag.replace(/^localhost\//, '');
  const slash = bare.lastIndexOf('/');
  const colon = bare.lastIndexOf(':');
  const hasTag = colon > slash;
  const name = hasTag ? bare.slice(0, colon) : bare;
  const tag = hasTag ? bare.slice(colon + 1) : 'latest';
  if (!NAME_RE.test(name) || !TAG_RE.test(tag)) {
    throw new AirutError('IMAGE_PUSH_FAILED', `cannot publish image "${localTag}": it is not a local name:tag the registry accepts`);
  }
  return { name, tag };
}

/** Refuses a registry address that is not a plain `host[:port][/path]` (a scheme, user info, spaces, a leading dash). */
export function checkRegistry(registry: string): string {
  if (!REGISTRY_RE.test(registry)) {
    throw new AirutError(
      'IMAGE_PUSH_FAILED',
      'kubernetes.registry must be host[:port][/path] without scheme or credentials (log in with the runtime instead); ' +
        `got ${JSON.stringify(registry.replace(/\/\/[^@/]*@/, '//***@').slice(0, 100))}`,
    );
  }
  return registry;
}

/** The runtime's last stderr lines, with any URL user info blanked: a registry URL may carry a password. */
function stderrTail(text: string): string {
  return tailLines(text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^@\s/]+@/gi, '$1***@'), PUSH_STDERR_LINES);
}

function pushFailed(o: PublishOptions, runtime: ContainerRuntime, what: string, detail: string, cause?: unknown): AirutError {
  return new AirutError(
    'IMAGE_PUSH_FAILED',
    `pushing image ${o.localTag} to registry ${o.registry} with ${runtime.command} failed: ${what}${detail ? `:\n${detail}` : ''}`,
    cause === undefined ? {} : { cause },
  );
}

/** Runs one CLI step of the push; a non-zero exit or a timeout becomes IMAGE_PUSH_FAILED. */
async function step(runtime: ContainerRuntime, o: PublishOptions, args: readonly string[], what: string, timeoutMs: number): Promise<string> {
  let r;
  try {
    r = await runtime.exec(args, { timeoutMs });
  } catch (err) {
    if (err instanceof AirutError && err.code === 'CONTAINER_RUNTIME_MISSING') throw err;
    throw pushFailed(o, runtime, `${what} did not finish`, err instanceof Error ? err.message : String(err), err);
  }
  if (r.exitCode !== 0) throw pushFailed(o, runtime, `${what} exited with ${r.exitCode}`, stderrTail(r.stderr || r.stdout));
  return r.stdout;
}

/** The digest podman wrote to its `--digestfile`. */
async function podmanPush(runtime: ContainerRuntime, o: PublishOptions, remote: string, timeoutMs: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'airut-push-'));
  try {
    const file = join(dir, 'digest');
    const tls = o.tlsVerify ? [] : ['--tls-verify=false'];
    await step(runtime, o, ['push', ...tls, '--digestfile', file, remote], 'push', timeoutMs);
    return (await readFile(file, 'utf8').catch(() => '')).trim();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The digest Docker recorded for this repository after the push. RepoDigests lists one entry per
 * repository the image was ever pushed to or pulled from, so the entry is picked by repository
 * rather than by position.
 */
async function dockerPush(runtime: ContainerRuntime, o: PublishOptions, remote: string, repository: string, timeoutMs: number): Promise<string> {
  await step(runtime, o, ['push', remote], 'push', timeoutMs);
  const out = await step(runtime, o, ['image', 'inspect', '--format', '{{json .RepoDigests}}', remote], 'reading the pushed digest', timeoutMs);
  let digests: unknown;
  try {
    digests = JSON.parse(out);
  } catch {
    digests = [];
  }
  const prefix = `${repository}@`;
  const hit = Array.isArray(digests) ? digests.find((d): d is string => typeof d === 'string' && d.startsWith(prefix)) : undefined;
  return hit === undefined ? '' : hit.slice(prefix.length);
}

/** Pushes a local image (by tag) to `<registry>/<name>:<tag>` and returns the pullable reference by digest. */
export async function publishImage(runtime: ContainerRuntime, o: PublishOptions): Promise<PublishedImage> {
  const registry = checkRegistry(o.registry);
  const { name, tag } = splitLocalTag(o.localTag);
  const repository = `${registry}/${name}`;
  const remote = `${repository}:${tag}`;
  const timeoutMs = o.timeoutMs ?? DEFAULT_PUSH_TIMEOUT_MS;
  await step(runtime, o, ['tag', o.localTag, remote], 'tagging', timeoutMs);
  const digest =
    runtime.kind === 'docker' ? await dockerPush(runtime, o, remote, repository, timeoutMs) : await podmanPush(runtime, o, remote, timeoutMs);
  if (!DIGEST_RE.test(digest)) {
    throw pushFailed(o, runtime, `the runtime reported no sha256 digest for ${remote}`, `got ${JSON.stringify(digest.slice(0, 100))}`);
  }
  return { remote, digestRef: `${repository}@${digest}` };
}
