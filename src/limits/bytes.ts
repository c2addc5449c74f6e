/** Byte counts for people: `26214400` → `25 MiB`, `1572864` → `1.5 MiB`, `900` → `900 bytes`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} ${n === 1 ? 'byte' : 'bytes'}`;
  let value = n / 1024;
  let unit = 'KiB';
  for (const next of ['MiB', 'GiB']) {
    if (value < 1024) break;
    value /= 1024;
    unit = next;
  }
  // One decimal when it says something (1.5 MiB); none when it is noise (25.0 MiB) or the number is big.
  const tenths = Math.round(value * 10);
  const text = value >= 100 || tenths % 10 === 0 ? String(Math.round(value)) : (tenths / 10).toFixed(1);
  return `${text} ${unit}`;
}
