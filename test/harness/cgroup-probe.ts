/**
 * A shell probe run inside a task container that prints the limits the kernel enforces on it and
 * its effective capabilities, for cgroup v2 and v1 hosts alike. One line, without square brackets,
 * so the scripted agent's `[[bash:...]]` marker can carry it (`command grep`: Claude Code's Bash
 * tool would run ripgrep for `grep`):
 *   memory=<bytes> cpu=<quota>/<period> pids=<max> capeff=<hex>
 */
export const CGROUP_PROBE = [
  'c=/sys/fs/cgroup',
  'if test -f $c/memory.max; then mem=$(cat $c/memory.max); cpu=$(cat $c/cpu.max | tr " " /); pids=$(cat $c/pids.max); ' +
    'else mem=$(cat $c/memory/memory.limit_in_bytes); cpu=$(cat $c/cpu/cpu.cfs_quota_us)/$(cat $c/cpu/cpu.cfs_period_us); pids=$(cat $c/pids/pids.max); fi',
  'echo "memory=$mem cpu=$cpu pids=$pids capeff=$(command grep CapEff /proc/self/status | cut -f2)"',
].join('; ');

/** Parses the probe's line; null when absent. */
export function parseProbe(text: string): { memory: number; cpu: number; pids: number; capEff: bigint } | null {
  const m = /memory=(\d+) cpu=(\d+)\/(\d+) pids=(\d+) capeff=([0-9a-f]+)/.exec(text);
  if (!m) return null;
  return { memory: Number(m[1]), cpu: Number(m[2]) / Number(m[3]), pids: Number(m[4]), capEff: BigInt(`0x${m[5]}`) };
}

/** Bits of the capabilities in CapEff (linux/capability.h). */
export const CAP_BITS: Readonly<Record<string, number>> = {
  CHOWN: 0, DAC_OVERRIDE: 1, FOWNER: 3, FSETID: 4, KILL: 5, SETGID: 6, SETUID: 7, SETPCAP: 8, NET_BIND_SERVICE: 10, SYS_CHROOT: 18, SETFCAP: 31,
};

export function capMask(names: readonly string[]): bigint {
  return names.reduce((acc, n) => acc | (1n << BigInt(CAP_BITS[n]!)), 0n);
}
