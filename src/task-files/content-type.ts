/**
 * Content types of kept files: what an outbox file is recorded as (by its extension; the agent
 * declares none), and what a download is served as. A download is always an attachment, but a
 * browser that is told `text/html` or `image/svg+xml` may still render it in some paths (a
 * "view" in the download bar, a plugin): only a short list of inert types is served as such.
 */

const BY_EXTENSION: Readonly<Record<string, string>> = {
  txt: 'text/plain',
  md: 'text/markdown',
  log: 'text/plain',
  csv: 'text/csv',
  json: 'application/json',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  pdf: 'application/pdf',
  zip: 'application/zip',
};

/** The type an outbox file is recorded with: by its extension, else application/octet-stream. */
export function typeForName(name: string): string {
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
  return BY_EXTENSION[ext] ?? 'application/octet-stream';
}

const TEXT = 'text/plain; charset=utf-8';

const SERVED_AS: Readonly<Record<string, string>> = {
  'text/plain': TEXT,
  'text/markdown': TEXT,
  'text/csv': TEXT,
  'application/json': TEXT,
  'image/png': 'image/png',
  'image/jpeg': 'image/jpeg',
  'image/gif': 'image/gif',
  'application/pdf': 'application/pdf',
  'application/zip': 'application/zip',
};

/** The Content-Type a download is served with: the recorded type if it is on the list, else octet-stream. */
export function downloadType(recorded: string): string {
  const bare = recorded.split(';')[0]!.trim().toLowerCase();
  return SERVED_AS[bare] ?? 'application/octet-stream';
}
