/**
 * The parent's Node options without its TypeScript loader: a bundle needs none, and a thread that
 * inherited `--import tsx` would start tsx's loader thread anyway (what the bundle avoids).
 */
export function bundleExecArgv(parent: readonly string[] = process.execArgv): string[] {
  const out: string[] = [];
  for (let i = 0; i < parent.length; i++) {
    const a = parent[i]!;
    if ((a === '--import' || a === '--loader' || a === '--require' || a === '-r') && /^tsx(\/|$)/.test(parent[i + 1] ?? '')) {
      i++;
      continue;
    }
    if (/^(--import|--loader|--require)=tsx(\/|$)/.test(a)) continue;
    out.push(a);
  }
  return out;
}
