// Runs the subjects of mail-text-subjects.ts for linear-time.ts, one case per message, in a thread
// of its own so that a case that never finishes can be stopped (terminate) and named. The thread
// inherits the test process's tsx loader (Node 22 and later), so it imports the TypeScript subjects.
import { parentPort, workerData } from 'node:worker_threads';

const { SUBJECTS } = await import(workerData.subjects);

parentPort.on('message', async ({ id, subject, input }) => {
  const fn = SUBJECTS[subject];
  if (!fn) return parentPort.postMessage({ id, error: `no subject ${subject}` });
  const text = input.prefix + input.unit.repeat(Math.ceil(input.size / Math.max(1, input.unit.length))) + input.suffix;
  const started = performance.now();
  try {
    await fn(text);
    parentPort.postMessage({ id, ms: performance.now() - started });
  } catch (err) {
    parentPort.postMessage({ id, ms: performance.now() - started, threw: String(err && err.stack || err) });
  }
});
parentPort.postMessage({ ready: true });
