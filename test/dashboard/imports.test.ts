/**
 * The dashboard's modules import each other without a cycle. They once did (the server defined
 * types the route modules imported, and the pages module lent helpers to the API and the
 * streams); a cycle makes the order in which modules initialize matter and every file harder to
 * read alone.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../src/dashboard/', import.meta.url));

function modules(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return modules(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Relative imports and re-exports, type-only ones included (they are cycles for a reader too). */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/^(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/gms)].map((m) => m[1]!);
  return specs.map((s) => path.resolve(path.dirname(file), s)).filter((p) => p.startsWith(ROOT));
}

function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (m: string): string[] | null => {
    if (state.get(m) === 'done') return null;
    if (state.get(m) === 'open') return [...stack.slice(stack.indexOf(m)), m];
    state.set(m, 'open');
    stack.push(m);
    for (const next of graph.get(m) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(m, 'done');
    return null;
  };
  for (const m of graph.keys()) {
    const cycle = visit(m);
    if (cycle) return cycle;
  }
  return null;
}

describe('dashboard module graph', () => {
  it('has no import cycle', () => {
    const files = modules(ROOT);
    assert.ok(files.length > 10, 'found the dashboard modules');
    const graph = new Map(files.map((f) => [f, importsOf(f)]));
    assert.ok([...graph.values()].some((deps) => deps.length > 0), 'the import pattern matches this code');
    const cycle = findCycle(graph);
    assert.equal(cycle, null, `import cycle: ${cycle?.map((f) => path.relative(ROOT, f)).join(' -> ')}`);
  });

  it('would see the cycle it guards against', () => {
    const a = path.join(ROOT, 'a.ts');
    const b = path.join(ROOT, 'b.ts');
    assert.deepEqual(findCycle(new Map([[a, [b]], [b, [a]]])), [a, b, a]);
  });
});
