/** Mocha root hooks: shared setup/teardown for the whole suite. */
import { stopRcDaemons } from '../../src/destination/rclone/daemon.js';
import { stopTestServer } from './pg.js';

export const mochaHooks = {
  /**
   * The rclone daemons a test's destinations started in this process (one per destination root)
   * go with the test: left running, they pile up and count as children the subprocess tests
   * expect gone.
   */
  async afterEach(): Promise<void> {
    await stopRcDaemons();
  },
  /** Stops the throwaway cluster if a test started one; an env-named server is left alone. */
  async afterAll(): Promise<void> {
    await stopTestServer();
  },
};
