/**
 * The Node.js that runs the daemon. It parses hostile mail and holds credentials, so a release past its
 * end of life (no more security fixes) is a warning, and one older than the project supports a failure.
 * End-of-life dates are the Node.js release schedule's (https://github.com/nodejs/release#release-schedule);
 * odd majors are short-lived "current" releases, never LTS.
 */
import type { CheckResult, DoctorCheck } from './types.ts';
import { fail, ok, warn } from './types.ts';

const NAME = 'node';

/** Majors the project runs and tests on (package.json `engines`, docs/deployment.md). */
export const SUPPORTED_MAJORS: readonly number[] = [22, 24];

/** Last day of security fixes per major (UTC), from the Node.js release schedule. */
export const NODE_END_OF_LIFE: Readonly<Record<number, string>> = {
  18: '2025-04-30',
  20: '2026-04-30',
  21: '2024-06-01',
  22: '2027-04-30',
  23: '2025-06-01',
  24: '2028-04-30',
  25: '2026-06-01',
  26: '2029-04-30',
};

const INSTALL = 'run scripts/node-setup.sh (installs Node 24 into .node/ for this project), or install Node 24 LTS system-wide';

export function assessNodeVersion(version: string, today: Date): CheckResult {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!m) return warn(NAME, `cannot read the version "${version}"`, INSTALL);
  const major = Number(m[1]);
  const eol = NODE_END_OF_LIFE[major];
  const ended = eol !== undefined && today.toISOString().slice(0, 10) > eol;
  if (major < Math.min(...SUPPORTED_MAJORS)) {
    return fail(NAME, `${version}${ended ? `, end of life since ${eol}` : ''}; airut-ts needs Node ${SUPPORTED_MAJORS.join(' or ')}`, INSTALL);
  }
  if (ended) return warn(NAME, `${version}, end of life since ${eol}: no more security fixes`, INSTALL);
  if (!SUPPORTED_MAJORS.includes(major)) {
    const lts = major % 2 === 0 ? 'not yet tested with airut-ts' : 'a short-lived odd release, never LTS';
    return warn(NAME, `${version}, ${lts}`, `Node ${SUPPORTED_MAJORS.join(' and ')} are the tested versions; ${INSTALL}`);
  }
  return ok(NAME, `${version}${eol ? `, security fixes until ${eol}` : ''}`);
}

export function nodeRuntimeCheck(version: string = process.version, now: () => Date = () => new Date()): DoctorCheck {
  return { name: NAME, timeoutFix: INSTALL, run: () => Promise.resolve(assessNodeVersion(version, now())) };
}
