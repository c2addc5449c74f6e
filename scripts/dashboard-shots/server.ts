/**
 * The real dashboard on a temporary database filled with the demo data (seed.ts), behind an access
 * token so that the login page exists too. What the screenshots and the layout test look at.
 */
import { startDashboard } from '../../src/dashboard/server.ts';
import { makeConfig, makeOptions, tempDb } from '../../test/dashboard/helpers.ts';
import { DEMO_REPOS, seedDashboard, type DemoSeed } from './seed.ts';

/** Not a secret: it guards a throwaway dashboard on 127.0.0.1 for as long as the pictures take. */
const DEMO_TOKEN = 'screenshot-demo-token-0123456789abcdef';

export interface DemoDashboard {
  readonly url: string;
  readonly token: string;
  readonly seed: DemoSeed;
  close(): Promise<void>;
}

export async function startDemoDashboard(now: number = Date.now()): Promise<DemoDashboard> {
  const { db, cleanup } = tempDb();
  try {
    const seed = seedDashboard(db, now);
    const dash = await startDashboard(makeOptions(db, makeConfig(DEMO_REPOS, { authToken: DEMO_TOKEN })).options);
    return {
      url: dash.url,
      token: DEMO_TOKEN,
      seed,
      async close() {
        await dash.close();
        cleanup();
      },
    };
  } catch (err) {
    cleanup();
    throw err;
  }
}
