import type { EventSink } from '../execute/events.js';
import type { StepOutcome } from '../execute/executor.js';
import type { Plan, PlannedStep } from '../plan/types.js';
import type { ArtefactRecord, SnapshotRecord, StepRecord } from '../record/snapshot-record.js';
import type { Secrets } from '../resolve/types.js';
import type { Destination } from '../destination/types.js';
import type { NeededRoles } from '../db/roles.js';

/** What the steps of one run share. Written by the step that knows, read by later ones. */
export interface RunState {
  startedAt: Date;
  /** The id db-snapshot exported, for pg_dump --snapshot and the incremental query. */
  exportedSnapshot?: string;
  /** The database's clock when the snapshot was taken. */
  databaseClock?: Date;
  /** ISO time the next incremental copies changes after (database clock minus margin). */
  watermark?: string;
  database?: SnapshotRecord['database'];
  repository?: SnapshotRecord['repository'];
  /** The roles the dump names, read inside the snapshot (db/roles.ts); db-dump keeps their definitions. */
  databaseRoles?: Promise<NeededRoles>;
  /** Settles when db-snapshot has counted rows and released its transaction. */
  databaseHold?: Promise<void>;
  artefacts: ArtefactRecord[];
  steps: Map<string, StepRecord>;
}

export interface RunContext {
  plan: Plan;
  /** Where the plan's snapshot goes, opened once for the run. */
  destination: Destination;
  secrets: Secrets;
  emit: EventSink;
  state: RunState;
  /** Subscribes to step settlement (db-snapshot holds its transaction until its readers settle). */
  onSettled(listener: (step: PlannedStep, record: StepRecord) => void): void;
}

export type StepRun<O> = (step: PlannedStep<O>, ctx: RunContext, signal: AbortSignal) => Promise<StepOutcome | void>;

/** Child environment for libpq tools: connection from the plan, password from the secrets only. */
export function libpqChildEnv(connection: Record<string, string>, ctx: RunContext): NodeJS.ProcessEnv {
  return { ...connection, ...(ctx.secrets.pgPassword !== undefined ? { PGPASSWORD: ctx.secrets.pgPassword } : {}) };
}
