import type { StepKind } from '../plan/types.js';
import { runConfig } from './config.js';
import { runDbDump } from './db-dump.js';
import { runDbSnapshot } from './db-snapshot.js';
import { runCommand } from './exec.js';
import { runFinalize } from './finalize.js';
import { runLock, runUnlock } from './lock.js';
import { runPrune } from './prune.js';
import { runRepoIncremental } from './repo-incremental.js';
import { runRepoRsync } from './repo-rsync.js';
import { runRepoTar } from './repo-tar.js';
import { runVerify } from './verify.js';
import type { StepRun } from './run-context.js';

/** One line per step kind: adding a kind means a module, a schema entry and a line here. */
export const STEP_RUNNERS: Partial<Record<StepKind, StepRun<never>>> = {
  lock: runLock,
  hook: runCommand,
  'db-snapshot': runDbSnapshot,
  'db-dump': runDbDump,
  config: runConfig,
  'repo-tar': runRepoTar,
  'repo-rsync': runRepoRsync,
  'repo-incremental': runRepoIncremental,
  finalize: runFinalize,
  verify: runVerify,
  prune: runPrune,
  exec: runCommand,
  unlock: runUnlock,
};
