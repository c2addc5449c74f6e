/**
 * Runs parsers of mail text on megabytes of hostile input, each case in a worker thread under a
 * deadline, so that a parser that is quadratic fails the test in seconds instead of hanging it for
 * hours. The deadline is an order of magnitude above what a linear parser needs on a busy machine
 * (a few hundred milliseconds for 5 MB); a quadratic one needs hours. Not a benchmark: only
 * "finishes at all, without throwing" is asserted.
 */
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';

/** `prefix + unit repeated to about size characters + suffix`, built inside the worker. */
export interface HostileText {
  readonly prefix?: string;
  readonly unit: string;
  readonly size: number;
  readonly suffix?: string;
}

export interface HostileCase {
  /** A key of SUBJECTS in mail-text-subjects.ts. */
  readonly subject: string;
  readonly input: HostileText;
}

export const FIVE_MB = 5 * 1024 * 1024;

/** Per case. Linear parsers take well under a second for 5 MB here; quadratic ones take hours. */
export const DEADLINE_MS = 30_000;

const SUBJECTS_MODULE = new URL('./mail-text-subjects.ts', import.meta.url).href;
const WORKER = new URL('./linear-time-worker.mjs', import.meta.url);

type Reply = { id: number; ms: number; threw?: string; error?: string };

export class HostileTextRunner {
  private worker: Worker | null = null;
  private ready: Promise<void> | null = null;
  private nextId = 0;

  private start(): Promise<void> {
    if (this.ready) return this.ready;
    const worker = new Worker(WORKER, { workerData: { subjects: SUBJECTS_MODULE }, resourceLimits: { maxOldGenerationSizeMb: 2048 } });
    this.worker = worker;
    this.ready = new Promise((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
    return this.ready;
  }

  /** Milliseconds the case took; fails when it throws or misses the deadline. */
  async run(c: HostileCase, deadlineMs = DEADLINE_MS): Promise<number> {
    await this.start();
    const worker = this.worker as Worker;
    const id = this.nextId++;
    const label = `${c.subject} on ${describe(c.input)}`;
    let timer: NodeJS.Timeout | undefined;
    const reply = await new Promise<Reply | 'deadline'>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
      };
      const onMessage = (m: Reply): void => {
        if (m.id !== id) return;
        done();
        resolve(m);
      };
      const onError = (err: Error): void => {
        done();
        reject(err);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      timer = setTimeout(() => {
        done();
        resolve('deadline');
      }, deadlineMs);
      worker.postMessage({ id, subject: c.subject, input: { prefix: '', suffix: '', ...c.input } });
    });
    if (reply === 'deadline') {
      await this.close();
      assert.fail(`${label} did not finish within ${deadlineMs} ms: its time grows faster than its input`);
    }
    assert.equal(reply.error, undefined, reply.error);
    assert.equal(reply.threw, undefined, `${label} threw: ${reply.threw}`);
    return reply.ms;
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    this.ready = null;
    if (worker) await worker.terminate();
  }
}

function describe(t: HostileText): string {
  const show = (s: string | undefined): string => JSON.stringify(s ?? '').slice(0, 40);
  return `${show(t.prefix)} + ${show(t.unit)} × ${Math.round(t.size / Math.max(1, t.unit.length))} + ${show(t.suffix)}`;
}
