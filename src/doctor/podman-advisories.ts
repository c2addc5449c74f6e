/**
 * Security advisories of podman's image builder that matter to airut-ts: each lets a Dockerfile's
 * `RUN --mount` reach files of the host while the image builds. A repository's
 * `.airut/container/Dockerfile` is built by the daemon, so anyone who can merge to that repository's
 * default branch could read the daemon's host (its CA key, the database, every secret) on an affected
 * podman. The doctor warns; it cannot see distribution backports, so the fix text says to check them.
 *
 * `fixedIn` names the first fixed release of each release line that got the fix. A version on a line
 * without an entry is affected when it is older than the oldest fixed release (a 4.x podman has no
 * fix for the 5.2-era advisories).
 */

export interface PodmanAdvisory {
  readonly id: string;
  readonly fixedIn: readonly string[];
}

/** From podman's release notes (4.9.4, 5.0.1, 5.2.4, 5.2.5). */
export const PODMAN_BUILD_ADVISORIES: readonly PodmanAdvisory[] = [
  { id: 'CVE-2024-1753', fixedIn: ['4.9.4', '5.0.1'] },
  { id: 'CVE-2024-9407', fixedIn: ['5.2.4'] },
  { id: 'CVE-2024-9675', fixedIn: ['5.2.5'] },
];

type Version = readonly [number, number, number];

/** `4.3.1`, `v5.0.0-rc1`, `5.2` → numbers; null when it does not start with a version. */
export function parseVersion(text: string): Version | null {
  const m = /^v?(\d{1,4})\.(\d{1,4})(?:\.(\d{1,4}))?/.exec(text.trim());
  if (!m) return null;
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
}

function compare(a: Version, b: Version): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

function affects(advisory: PodmanAdvisory, version: Version): boolean {
  const fixes = advisory.fixedIn.map((f) => parseVersion(f)!);
  const sameLine = fixes.find((f) => f[0] === version[0]);
  if (sameLine) return compare(version, sameLine) < 0;
  const oldest = fixes.reduce((a, b) => (compare(a, b) <= 0 ? a : b));
  return compare(version, oldest) < 0;
}

/** The advisories a podman of this version is affected by; [] for an unreadable version (nothing to say). */
export function podmanAdvisoriesFor(versionText: string): PodmanAdvisory[] {
  const version = parseVersion(versionText);
  if (!version) return [];
  return PODMAN_BUILD_ADVISORIES.filter((a) => affects(a, version));
}
