/** Mocha root hooks: shared setup/teardown for the whole suite. */
import { stopTestServer } from './pg.js';

export const mochaHooks = {
  /** Stops the throwaway cluster if a test started one; an env-named server is left alone. */
  async afterAll(): Promise<void> {
    await stopTestServer();
  },
};
