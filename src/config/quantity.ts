/**
 * Kubernetes resource quantities as the configuration accepts them (`kubernetes.resources`,
 * `kubernetes.state_size_limit`). Pure. Kubernetes' own grammar is wider (exponents, signs,
 * nano units); the subset here is what a person writes for CPU and memory, and it refuses the
 * classic mistakes with a message instead of letting the API server read them literally:
 * `512m` of memory is half a byte there, not 512 MB.
 */

const NUMBER = /^(\d+(?:\.\d+)?|\.\d+)/;
const BINARY: Readonly<Record<string, number>> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Readonly<Record<string, number>> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

export type QuantityResult = { readonly ok: true; readonly value: number } | { readonly ok: false; readonly problem: string };

function split(text: string): { number: number; suffix: string } | null {
  const m = NUMBER.exec(text);
  if (!m) return null;
  return { number: Number(m[1]), suffix: text.slice(m[1]!.length) };
}

/** CPU in cores: `2`, `0.5`, `500m`. At least one millicore (the API server's precision). */
export function parseCpuQuantity(text: string): QuantityResult {
  const how = 'must be CPU cores, such as 1, 0.5 or 500m (millicores)';
  const parts = split(text);
  if (!parts || (parts.suffix !== '' && parts.suffix !== 'm')) return { ok: false, problem: `${JSON.stringify(text)} ${how}` };
  if (parts.suffix === 'm' && !Number.isInteger(parts.number)) {
    return { ok: false, problem: `${JSON.stringify(text)} ${how}; millicores are whole numbers` };
  }
  const cores = parts.suffix === 'm' ? parts.number / 1000 : parts.number;
  if (cores < 0.001) return { ok: false, problem: `${JSON.stringify(text)} is less than 1m (one thousandth of a core), the smallest CPU amount Kubernetes knows` };
  return { ok: true, value: cores };
}

/** Memory or disk in bytes: `512Mi`, `2Gi`, `1G`, `1500000`. At least one byte. */
export function parseMemoryQuantity(text: string): QuantityResult {
  const how = 'must be bytes with an optional unit, such as 512Mi, 2Gi, 1G or 1073741824 (units Ki Mi Gi Ti Pi Ei, or k M G T P E)';
  const parts = split(text);
  if (!parts) return { ok: false, problem: `${JSON.stringify(text)} ${how}` };
  if (parts.suffix === 'm') {
    // Podman's `512m` means MiB; Kubernetes' `m` means thousandths.
    return { ok: false, problem: `${JSON.stringify(text)} would be thousandths of a byte in Kubernetes; write ${parts.number}Mi for mebibytes` };
  }
  const unit = BINARY[parts.suffix] ?? DECIMAL[parts.suffix];
  if (unit === undefined) return { ok: false, problem: `${JSON.stringify(text)} ${how}` };
  const bytes = parts.number * unit;
  if (bytes < 1) return { ok: false, problem: `${JSON.stringify(text)} ${how}, and at least one byte` };
  return { ok: true, value: bytes };
}

/**
 * The memory of `resource_limits` (podman's `--memory`: a number with b, k, m or g, binary units)
 * as a Kubernetes quantity, so a repository without `kubernetes.resources` keeps its limit.
 */
export function podmanMemoryToQuantity(memory: string): string {
  const m = /^([0-9]+(?:\.[0-9]+)?)([bkmgBKMG]?)$/.exec(memory);
  if (!m) throw new Error(`internal: resource_limits.memory ${JSON.stringify(memory)} was not validated`);
  const unit = m[2]!.toLowerCase();
  if (unit === '' || unit === 'b') return String(Math.ceil(Number(m[1])));
  return `${m[1]}${{ k: 'Ki', m: 'Mi', g: 'Gi' }[unit]}`;
}
