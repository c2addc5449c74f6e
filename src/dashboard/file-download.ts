/**
 * How a kept task file (src/task-files/) is offered: its URL, its JSON in the API, and the headers
 * of its download. The name is the sender's or the agent's, so it reaches the headers only through
 * `contentDisposition`, which keeps quotes, CR/LF and non-ASCII out of the header's syntax.
 */
import type { TaskFile } from '../store/task-content.ts';
import { downloadType } from '../task-files/content-type.ts';

/** The download URL of a kept file (the pages link to it; the route is in routes/files.ts). */
export function taskFileUrl(taskId: number, fileId: number): string {
  return `/tasks/${taskId}/files/${fileId}`;
}

/** A task's file as the API lists it: a download URL when it is kept, else the note saying why not. */
export function taskFileJson(f: TaskFile): Record<string, unknown> {
  return {
    id: f.id,
    direction: f.direction,
    name: f.name,
    size: f.size,
    contentType: f.contentType,
    sha256: f.sha256,
    createdAt: f.createdAt,
    downloadUrl: f.path === null ? null : taskFileUrl(f.taskId, f.id),
    note: f.note,
  };
}

/**
 * The CSP of a download: nothing loads, and `sandbox` gives whatever a browser might still render
 * of it an opaque origin without scripts. security.ts keeps it instead of the pages' policy.
 */
export const DOWNLOAD_CSP = "default-src 'none'; sandbox";

/** Most characters of the ASCII fallback name. */
const MAX_FALLBACK_CHARS = 150;

/**
 * `attachment; filename="…"; filename*=UTF-8''…` (RFC 6266): the quoted name is an ASCII fallback
 * (anything else, quotes, backslashes and controls become `_`), the extended one the whole name
 * percent-encoded, controls removed. A name with nothing left is `file`.
 */
export function contentDisposition(name: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = name.replace(/[\u0000-\u001f\u007f-\u009f]/g, '').replace(/[/\\]/g, '_').trim() || 'file';
  const fallback = clean.replace(/[^\x20-\x7e]|["\\]/g, '_').slice(0, MAX_FALLBACK_CHARS);
  const extended = encodeURIComponent(clean).replace(/['()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${fallback}"; filename*=UTF-8''${extended}`;
}

/** The headers of a download of `f`, `size` bytes. */
export function downloadHeaders(f: Pick<TaskFile, 'name' | 'contentType'>, size: number): Record<string, string> {
  return {
    'Content-Type': downloadType(f.contentType),
    'Content-Length': String(size),
    'Content-Disposition': contentDisposition(f.name),
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': DOWNLOAD_CSP,
    'Cache-Control': 'private, no-store',
  };
}
