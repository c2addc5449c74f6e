/**
 * Rules on `repos.<id>.schedules.<name>` that the JSON schema cannot express: exactly one of
 * `prompt` and `trigger_command`, a five-field cron expression the cron library accepts, an IANA
 * time zone this Node knows, and one bare address in `deliver.to`. Reads defensively, like
 * rules.ts: a value of the wrong type was already reported by the schema.
 */
import type { ConfigProblem } from '../errors.ts';
import { cronProblem, isKnownTimeZone } from '../schedule/cron.ts';
import { isBareAddress } from './address.ts';
import { childPath, isRecord } from './object-path.ts';

export function checkSchedules(repo: Record<string, unknown>, repoPath: string, problems: ConfigProblem[]): void {
  if (!isRecord(repo.schedules)) return;
  const base = childPath(repoPath, 'schedules');
  for (const [name, schedule] of Object.entries(repo.schedules)) {
    if (isRecord(schedule)) checkSchedule(schedule, childPath(base, name), problems);
  }
}

function checkSchedule(s: Record<string, unknown>, path: string, problems: ConfigProblem[]): void {
  const hasPrompt = s.prompt !== undefined && s.prompt !== null;
  const hasTrigger = s.trigger_command !== undefined && s.trigger_command !== null;
  if (hasPrompt === hasTrigger) {
    problems.push({
      path,
      message: hasPrompt
        ? 'sets both prompt and trigger_command; keep one (prompt runs the task every time, trigger_command decides first)'
        : 'needs prompt (what the task is asked) or trigger_command (a command whose output, when it exits 0, is the prompt)',
    });
  }
  if (typeof s.cron === 'string' && s.cron.trim() !== '') {
    const problem = cronProblem(s.cron);
    if (problem) problems.push({ path: childPath(path, 'cron'), message: problem });
  }
  if (typeof s.timezone === 'string' && !isKnownTimeZone(s.timezone)) {
    problems.push({
      path: childPath(path, 'timezone'),
      message: `${JSON.stringify(s.timezone)} is not a known IANA time zone; use a name like UTC, Europe/Helsinki or America/New_York`,
    });
  }
  const deliver = s.deliver;
  if (isRecord(deliver) && typeof deliver.to === 'string' && !isBareAddress(deliver.to.trim())) {
    problems.push({
      path: childPath(childPath(path, 'deliver'), 'to'),
      message: 'must be one bare address like ops@example.com (no name, no list); the reply goes there',
    });
  }
}
