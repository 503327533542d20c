/**
 * Mocha root hooks (run in every worker under --parallel) and global fixtures (run once, in the
 * main process, before the workers start).
 */
import { stopRcDaemons } from '../../src/destination/rclone/daemon.js';
import { shareTestServer, stopTestServer } from './pg.js';

export const mochaHooks = {
  /**
   * The rclone daemons a test's destinations started in this process (one per destination root)
   * go with the test: left running, they pile up and count as children the subprocess tests
   * expect gone.
   */
  async afterEach(): Promise<void> {
    await stopRcDaemons();
  },
};

/** One PostgreSQL server for the whole run, whatever the number of worker processes. */
export const mochaGlobalSetup = shareTestServer;
export const mochaGlobalTeardown = stopTestServer;
