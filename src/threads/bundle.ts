/**
 * Listener threads run a one-file JavaScript bundle of their TypeScript entry point, built with
 * esbuild when the supervisor starts, instead of loading TypeScript through tsx in every thread.
 *
 * Why: one thread per repo means the per-thread cost is multiplied by the number of repos. With
 * tsx, each thread registers its own loader, which on Node 20 started a second (hooks) thread, and
 * then compiles and links a few hundred modules one by one. Measured on the 2-CPU test machine
 * (`scripts/bench/scale.ts`, docs/benchmarks.md): ~58 MiB and ~0.45 s of CPU per listener with
 * tsx, about half the memory and a fifth of the start-up time as a bundle. One build (~0.3 s)
 * serves every listener and every restart.
 *
 * The bundle is CommonJS so that the CommonJS packages inside it (mailsplit, pino) keep their
 * `require()` of Node's built-in modules. It lives in a private temporary directory (mode 0700,
 * random name) that `dispose()` removes.
 *
 * What a thread never or rarely needs stays out of the bundle (`keepOutOfIsolates`): every thread
 * holds the whole source text of its bundle, so with one thread per repository each KiB is paid a
 * hundred times (scripts/bench/listener-isolate.ts measures it).
 *
 * Each thread also starts from V8's code cache of the bundle (src/threads/code-cache.ts): a thread
 * then skips parsing its 1.3 MB of source.
 *
 * Packages that ship both an ES module and a CommonJS build (libmime, libqp, libbase64, imapflow)
 * are resolved the way `require()` would resolve them, wherever they are imported from, so each is
 * in the bundle once: imapflow's ESM build imports libmime's ESM build while mailsplit requires
 * the CommonJS one, and two copies of libmime's tables would be loaded into every thread.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { AirutError } from '../errors.ts';
import { writeCodeCacheLoader } from './code-cache.ts';

export class ThreadBundles {
  private dir: string | null = null;
  private readonly built = new Map<string, Promise<Built>>();

  /** The bundle of `entry` (a .ts or .js file URL), built once per entry. */
  async bundle(entry: URL): Promise<URL> {
    return (await this.buildOnce(entry)).url;
  }

  /** The source files inside the bundle of `entry`, relative to the working directory (for tests and diagnosis). */
  async inputs(entry: URL): Promise<readonly string[]> {
    return (await this.buildOnce(entry)).inputs;
  }

  /** Bytes each source file contributes to the bundle of `entry` (what every thread holds; scripts/bench/listener-isolate.ts). */
  async inputBytes(entry: URL): Promise<ReadonlyMap<string, number>> {
    return (await this.buildOnce(entry)).inputBytes;
  }

  private buildOnce(entry: URL): Promise<Built> {
    let pending = this.built.get(entry.href);
    if (!pending) {
      pending = this.build(entry);
      this.built.set(entry.href, pending);
      // A failed build may be retried by a later call.
      pending.catch(() => this.built.delete(entry.href));
    }
    return pending;
  }

  /** Removes the bundles. Threads already running keep what they loaded. Idempotent. */
  dispose(): void {
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
    this.dir = null;
    this.built.clear();
  }

  private async build(entry: URL): Promise<Built> {
    this.dir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'airut-threads-'));
    const source = fileURLToPath(entry);
    const outfile = path.join(this.dir, `${path.basename(source).replace(/\.[cm]?[jt]s$/, '')}-${this.built.size}.cjs`);
    let warnings: string[];
    let inputs: string[];
    let inputBytes: Map<string, number>;
    try {
      const result = await build({
        entryPoints: [source],
        outfile,
        bundle: true,
        platform: 'node',
        format: 'cjs',
        target: `node${process.versions.node.split('.')[0]}`,
        // Every thread holds the bundle's source text: drop whitespace, keep names for stack traces.
        minifyWhitespace: true,
        minifySyntax: true,
        legalComments: 'none',
        logLevel: 'silent',
        metafile: true,
        plugins: [resolveAsRequire, keepOutOfIsolates],
      });
      inputs = Object.keys(result.metafile.inputs);
      inputBytes = new Map(Object.values(result.metafile.outputs).flatMap((o) => Object.entries(o.inputs).map(([file, v]) => [file, v.bytesInOutput] as const)));
      warnings = result.warnings.map((w) => `${w.location?.file ?? '?'}:${w.location?.line ?? '?'}: ${w.text}`);
    } catch (err) {
      const errors = (err as { errors?: Array<{ text: string; location?: { file: string; line: number } | null }> }).errors;
      const detail = errors?.length
        ? errors.map((e) => `${e.location ? `${e.location.file}:${e.location.line}: ` : ''}${e.text}`).join('; ')
        : (err as Error).message;
      throw new AirutError('THREAD_BUNDLE_FAILED', `cannot bundle the thread entry ${source}: ${detail} (is \`npm ci\` complete?)`, { cause: err });
    }
    // A warning here (import.meta in CommonJS, a require that cannot be resolved) would be a bug
    // that shows only at run time, in a thread: refuse to start instead.
    if (warnings.length) {
      throw new AirutError('THREAD_BUNDLE_FAILED', `bundling the thread entry ${source} gave warnings: ${warnings.join('; ')}`);
    }
    return { url: pathToFileURL(writeCodeCacheLoader(outfile)), inputs, inputBytes };
  }
}

interface Built {
  readonly url: URL;
  readonly inputs: readonly string[];
  readonly inputBytes: ReadonlyMap<string, number>;
}

/** Resolves package imports as `require()` would, so that a dual ESM/CommonJS package is bundled once (see above). */
const resolveAsRequire: Plugin = {
  name: 'resolve-packages-as-require',
  setup(b) {
    // Bare specifiers only (esbuild's filters are Go regular expressions: no lookahead).
    b.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.path.startsWith('node:')) return undefined;
      if (args.kind !== 'import-statement' && args.kind !== 'dynamic-import') return undefined;
      if ((args.pluginData as { asRequire?: boolean } | undefined)?.asRequire) return undefined;
      const r = await b.resolve(args.path, { kind: 'require-call', resolveDir: args.resolveDir, importer: args.importer, pluginData: { asRequire: true } });
      // A package without a CommonJS entry (ESM only) resolves as it was written.
      if (r.errors.length > 0) return undefined;
      return { path: r.path, external: r.external, namespace: r.namespace, sideEffects: r.sideEffects };
    });
  },
};

/**
 * A package loaded only when first used, from the installed tree, instead of from the bundle.
 * encoding-japanese (~100 KiB) decodes ISO-2022-JP and its kin, which libmime needs for a mail
 * in one of those charsets only, yet requires when it loads. pino (with its helpers, ~70 KiB) is
 * imapflow's default logger, which it creates only when given no logger (airut gives `false`);
 * listener threads log with src/log/line-logger.ts.
 */
const LOAD_ON_FIRST_USE = new Set(['encoding-japanese', 'pino']);

/**
 * Packages replaced by a module that refuses to work. `socks` (with ip-address and smart-buffer,
 * ~90 KiB) is imapflow's SOCKS proxy support; airut never passes imapflow a proxy.
 */
const NEVER_USED: ReadonlyMap<string, string> = new Map([
  ['socks', `exports.SocksClient = { createConnection() { return Promise.reject(new Error('SOCKS proxies are not supported in airut threads')); } };`],
]);

const EXTERNAL = 'airut-external:';

/**
 * Keeps out of the bundle what costs every thread memory for nothing (see the header):
 * - JSON files (iconv-lite's code page tables, ~250 KiB) are required from disk when needed: parsed
 *   JSON leaves no source text behind, while inlined it stays in the bundle's text for good;
 * - LOAD_ON_FIRST_USE packages become a stand-in that requires the real one on first use;
 * - NEVER_USED packages become a stand-in that refuses.
 * Paths stay absolute: the bundle lives in a temporary directory where `require()` finds no node_modules.
 */
const keepOutOfIsolates: Plugin = {
  name: 'keep-out-of-isolates',
  setup(b) {
    b.onResolve({ filter: /^airut-external:/ }, (args) => ({ path: args.path.slice(EXTERNAL.length), external: true }));
    b.onResolve({ filter: /\.json$/ }, async (args) => {
      if ((args.pluginData as { jsonAsIs?: boolean } | undefined)?.jsonAsIs) return undefined;
      const r = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: { jsonAsIs: true } });
      if (r.errors.length > 0 || !r.path) return undefined;
      return { path: r.path, external: true };
    });
    b.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (NEVER_USED.has(args.path)) return { path: args.path, namespace: 'airut-never-used' };
      if (!LOAD_ON_FIRST_USE.has(args.path) || (args.pluginData as { real?: boolean } | undefined)?.real) return undefined;
      const r = await b.resolve(args.path, { kind: 'require-call', resolveDir: args.resolveDir, importer: args.importer, pluginData: { real: true, asRequire: true } });
      if (r.errors.length > 0) return undefined;
      return { path: r.path, namespace: 'airut-on-first-use' };
    });
    b.onLoad({ filter: /.*/, namespace: 'airut-never-used' }, (args) => ({ contents: NEVER_USED.get(args.path)!, loader: 'js' }));
    b.onLoad({ filter: /.*/, namespace: 'airut-on-first-use' }, (args) => ({
      // `__esModule` is asked by the importer's interop helper when it loads: answered without
      // loading. A function target, so that a package that is a function (pino) can be called.
      contents: `let real;
const load = () => (real ??= require(${JSON.stringify(EXTERNAL + args.path)}));
module.exports = new Proxy(function () {}, {
  get(_target, key) {
    if (key === '__esModule') return undefined;
    return load()[key];
  },
  has: (_target, key) => key in load(),
  apply: (_target, self, args) => Reflect.apply(load(), self, args),
  construct: (_target, args) => Reflect.construct(load(), args),
});`,
      loader: 'js',
    }));
  },
};
