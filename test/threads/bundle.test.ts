import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { AirutError } from '../../src/errors.ts';
import { ThreadBundles } from '../../src/threads/bundle.ts';
import { CODE_CACHE_REJECTED } from '../../src/threads/code-cache.ts';
import { LISTENER_ENTRY } from '../../src/supervisor/repo-worker.ts';
import { bundleExecArgv, startWorker } from '../../src/threads/exec-argv.ts';

function tempEntry(name: string, text: string): URL {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bundle-test-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return pathToFileURL(file);
}

test('the listener entry bundles into one private CommonJS file, built once, removed by dispose()', async () => {
  const bundles = new ThreadBundles();
  try {
    const url = await bundles.bundle(LISTENER_ENTRY);
    const file = fileURLToPath(url);
    assert.match(file, /\.loader\.cjs$/, 'threads start in the generated loader');
    assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
    const bundleFile = file.replace(/\.loader\.cjs$/, '.cjs');
    assert.ok(fs.statSync(bundleFile.replace(/\.cjs$/, '.v8cache')).size > 0, 'the code cache is written next to the bundle');
    const text = fs.readFileSync(bundleFile, 'utf8');
    assert.doesNotMatch(text, /from\s+['"]\.\.?\//, 'no relative imports left: everything is inside');
    assert.equal((await bundles.bundle(LISTENER_ENTRY)).href, url.href, 'the second call reuses the first build');
    bundles.dispose();
    assert.equal(fs.existsSync(path.dirname(file)), false);
  } finally {
    bundles.dispose();
  }
});

test('the listener bundle carries no body parser and no package twice (its size is paid once per repo)', async () => {
  const bundles = new ThreadBundles();
  try {
    const inputs = await bundles.inputs(LISTENER_ENTRY);
    assert.ok(inputs.some((f) => f.includes('node_modules/imapflow/')), 'imapflow is inside');
    assert.ok(inputs.some((f) => f.includes('node_modules/@zone-eu/mailsplit/')), 'the MIME splitter is inside');
    // The listener reads MIME structure only (src/email/mime-structure.ts); bodies are the runner's.
    for (const pkg of ['mailparser', 'html-to-text', 'htmlparser2', 'linkify-it']) {
      assert.equal(inputs.find((f) => f.includes(`node_modules/${pkg}/`)), undefined, `${pkg} must not be in the listener bundle`);
    }
    // A dual ESM/CommonJS package (libmime, libqp, libbase64) must come in one build only.
    const byModule = new Map<string, string[]>();
    for (const f of inputs) {
      const key = f.replace(/\/dist\/(esm|cjs)\//, '/dist/*/');
      byModule.set(key, [...(byModule.get(key) ?? []), f]);
    }
    assert.deepEqual([...byModule.values()].filter((files) => files.length > 1), []);
  } finally {
    bundles.dispose();
  }
});

test('what a listener never or rarely needs stays out of its bundle (every repository pays for its text)', async () => {
  const bundles = new ThreadBundles();
  try {
    const all = await bundles.inputs(LISTENER_ENTRY);
    // A stand-in that requires the real package on first use is named after it, in its own namespace.
    const standIns = all.filter((f) => f.startsWith('airut-on-first-use:'));
    assert.deepEqual(standIns.map((f) => /.*node_modules\/([^/]+)\//.exec(f)?.[1]).sort(), ['encoding-japanese', 'pino']);
    const inputs = all.filter((f) => !standIns.includes(f));
    for (const pkg of ['socks', 'ip-address', 'smart-buffer', 'pino', 'thread-stream', 'sonic-boom', 'encoding-japanese']) {
      assert.equal(inputs.find((f) => f.includes(`node_modules/${pkg}/`)), undefined, `${pkg} must not be in the listener bundle`);
    }
    assert.deepEqual(inputs.filter((f) => f.endsWith('.json')), [], 'JSON (code page tables) is read from disk when needed');
  } finally {
    bundles.dispose();
  }
});

test('a bundled thread decodes Japanese, Chinese and Korean headers from the tables left on disk, and refuses SOCKS', async () => {
  const bundles = new ThreadBundles();
  try {
    const probe = new URL('../fixtures/workers/charset-probe.ts', import.meta.url);
    assert.deepEqual((await bundles.inputs(probe)).filter((f) => f.includes('encoding-japanese/')).map((f) => f.split(':')[0]), ['airut-on-first-use'], 'only its stand-in is inside');
    const worker = startWorker(await bundles.bundle(probe), { execArgv: bundleExecArgv() });
    const msg = await new Promise<{ japanese: string; chinese: string; korean: string; socks: string }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    assert.equal(msg.japanese, 'テスト', 'ISO-2022-JP: encoding-japanese, required on first use');
    assert.equal(msg.chinese, '中文', 'GBK: the cp936 table, read from disk');
    assert.equal(msg.korean, '한국', 'EUC-KR: the cp949 table, read from disk');
    assert.match(msg.socks, /SOCKS proxies are not supported/);
  } finally {
    bundles.dispose();
  }
});

test('a bundled TypeScript entry runs in a thread without tsx', async () => {
  const bundles = new ThreadBundles();
  const entry = tempEntry(
    'echo.ts',
    `import { parentPort, workerData } from 'node:worker_threads';
const n: number = workerData.n;
parentPort!.postMessage({ doubled: n * 2, tsx: process.execArgv.join(' ') });
`,
  );
  try {
    const worker = startWorker(await bundles.bundle(entry), { workerData: { n: 21 }, execArgv: bundleExecArgv() });
    const msg = await new Promise<{ doubled: number; tsx: string }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    assert.equal(msg.doubled, 42);
    assert.doesNotMatch(msg.tsx, /tsx/);
    await worker.terminate();
  } finally {
    bundles.dispose();
    fs.rmSync(path.dirname(fileURLToPath(entry)), { recursive: true, force: true });
  }
});

test('a thread compiles the bundle from the code cache, and from source when the cache does not fit', async () => {
  const bundles = new ThreadBundles();
  const entry = tempEntry(
    'cached.ts',
    `import { parentPort } from 'node:worker_threads';
import { createHash } from 'node:crypto';
function thrower(): never {
  throw new Error('where am I');
}
let where = '';
try {
  thrower();
} catch (err) {
  where = (err as Error).stack ?? '';
}
parentPort!.postMessage({ rejected: (globalThis as Record<symbol, unknown>)[Symbol.for('${CODE_CACHE_REJECTED}')], hash: createHash('sha256').update('x').digest('hex').slice(0, 8), where, isModule: typeof module === 'object' && typeof require === 'function' });
`,
  );
  const run = async (loader: URL) => {
    const worker = startWorker(loader, { execArgv: bundleExecArgv() });
    try {
      return await new Promise<{ rejected: boolean; hash: string; where: string; isModule: boolean }>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
    } finally {
      await worker.terminate();
    }
  };
  try {
    const loader = await bundles.bundle(entry);
    const ok = await run(loader);
    assert.equal(ok.rejected, false, 'V8 took the cache');
    assert.equal(ok.hash, '2d711642', 'built-in modules load through require');
    assert.equal(ok.isModule, true, 'the bundle runs as a CommonJS module');
    assert.match(ok.where, /thrower .*cached-\d+\.cjs:\d+:\d+/, 'stack traces name the bundle');

    // A cache for other source (an upgrade that rewrote the bundle, a damaged file) is refused by V8.
    const cacheFile = fileURLToPath(loader).replace(/\.loader\.cjs$/, '.v8cache');
    fs.writeFileSync(cacheFile, Buffer.alloc(fs.statSync(cacheFile).size, 0x5a));
    const stale = await run(loader);
    assert.equal(stale.rejected, true);
    assert.equal(stale.hash, '2d711642', 'and the thread still runs, compiled from source');
    fs.rmSync(cacheFile);
    assert.equal((await run(loader)).rejected, true, 'no cache at all: compiled from source');
  } finally {
    bundles.dispose();
    fs.rmSync(path.dirname(fileURLToPath(entry)), { recursive: true, force: true });
  }
});

test('a build error or warning refuses with THREAD_BUNDLE_FAILED and names the file', async () => {
  const bundles = new ThreadBundles();
  const broken = tempEntry('broken.ts', `import { nothing } from './does-not-exist.ts';\nconsole.log(nothing);\n`);
  // import.meta has no meaning in CommonJS: esbuild warns, and the thread would see undefined.
  const warned = tempEntry('warned.ts', `console.log(import.meta.url);\n`);
  try {
    for (const [entry, pattern] of [
      [broken, /does-not-exist/],
      [warned, /warnings: .*import\.meta/],
    ] as const) {
      await assert.rejects(bundles.bundle(entry), (err: unknown) => {
        assert.ok(err instanceof AirutError);
        assert.equal(err.code, 'THREAD_BUNDLE_FAILED');
        assert.match(err.message, pattern);
        assert.match(err.message, new RegExp(path.basename(fileURLToPath(entry))));
        return true;
      });
    }
  } finally {
    bundles.dispose();
    for (const e of [broken, warned]) fs.rmSync(path.dirname(fileURLToPath(e)), { recursive: true, force: true });
  }
});
