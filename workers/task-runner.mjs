// Piscina loads this file in each task-runner thread. Worker threads do not inherit tsx's loader on
// Node 20, so register it before importing the TypeScript entry. Plain JS on purpose.
import { register } from 'tsx/esm/api';

register();
const { default: runTaskInThread } = await import('./task-runner.ts');
export default runTaskInThread;
