// Worker threads do not inherit tsx's loader on Node 20, so each thread registers it before
// loading its TypeScript entry point (passed as argv[2], a file URL). Plain JS on purpose.
import { register } from 'tsx/esm/api';

register();
await import(process.argv[2]);
