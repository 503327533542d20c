/**
 * The DAG executor with an injected step runner (as go-task tests its executor): each step runs
 * until the test settles it by hand, so every interleaving below is chosen, never timed.
 */
import { expect } from 'chai';
import { setImmediate as drained } from 'node:timers/promises';
import { BackplanError } from '../src/errors.js';
import type { RunEvent } from '../src/execute/events.js';
import { executeDag } from '../src/execute/executor.js';
import type { ExecuteOptions, ExecuteResult, StepOutcome, StepRunner } from '../src/execute/executor.js';
import type { PlannedStep } from '../src/plan/types.js';

function step(id: string, needs: string[] = [], always = false): PlannedStep {
  return { id, kind: 'exec', needs, always, summary: id, commands: [], options: {} };
}

/** One call of the injected runner, held open until the test says how it ends. */
interface Call {
  signal: AbortSignal;
  ok(outcome?: StepOutcome): void;
  fail(error: unknown): void;
}

/** Starts executeDag on `steps` with a runner that only records what it was asked to do. */
function start(steps: PlannedStep[], opts: Partial<ExecuteOptions> = {}) {
  const calls = new Map<string, Call>();
  const started: string[] = [];
  const settled: string[] = [];
  const events: RunEvent['type'][] = [];
  let running = 0;
  let peak = 0;
  const runStep: StepRunner = (s, signal) =>
    new Promise((resolve, reject) => {
      running++;
      peak = Math.max(peak, running);
      started.push(s.id);
      let open = true;
      const end = (finish: () => void) => {
        if (!open) return;
        open = false;
        running--;
        finish();
      };
      const call: Call = { signal, ok: (o) => end(() => resolve(o)), fail: (e) => end(() => reject(e)) };
      calls.set(s.id, call);
      // What a real step does when cancelled: its process dies and its run rejects.
      signal.addEventListener('abort', () => call.fail(new Error(`${s.id} was cancelled`)), { once: true });
    });
  const result = executeDag(steps, {
    runStep,
    concurrency: 4,
    signal: new AbortController().signal,
    emit: (e) => events.push(e.type),
    onSettled: (s) => settled.push(s.id),
    ...opts,
  });
  return {
    result,
    started,
    settled,
    events,
    running: () => running,
    peak: () => peak,
    call(id: string): Call {
      const c = calls.get(id);
      if (!c) throw new Error(`step ${id} has not started (started: ${started.join(', ')})`);
      return c;
    },
  };
}

/** Lets the executor react to what just happened: every pending promise job runs first. */
const settle = () => drained();

const statuses = (r: ExecuteResult) => Object.fromEntries(r.records.map((x) => [x.id, x.status]));

describe('executeDag', () => {
  it('starts a step only after every one of its needs settled ok', async () => {
    const run = start([step('a'), step('b', ['a']), step('c', ['a']), step('d', ['b', 'c'])]);
    await settle();
    expect(run.started).to.deep.equal(['a']);

    run.call('a').ok({ bytes: 42 });
    await settle();
    expect(run.started).to.deep.equal(['a', 'b', 'c']);

    run.call('c').ok();
    await settle();
    expect(run.started, 'd still needs b').to.deep.equal(['a', 'b', 'c']);

    run.call('b').ok({ exitCode: 0 });
    await settle();
    expect(run.started).to.deep.equal(['a', 'b', 'c', 'd']);

    run.call('d').ok();
    const { records, failure } = await run.result;
    expect(failure).to.equal(undefined);
    expect(records.map((r) => r.id), 'records in the order of the plan').to.deep.equal(['a', 'b', 'c', 'd']);
    expect(statuses({ records })).to.deep.equal({ a: 'ok', b: 'ok', c: 'ok', d: 'ok' });
    expect(records[0]).to.include({ kind: 'exec', bytes: 42 });
    expect(records[1]).to.include({ exitCode: 0 });
    expect(run.settled).to.deep.equal(['a', 'c', 'b', 'd']);
  });

  it('never runs more steps at once than the concurrency limit', async () => {
    const ids = ['s1', 's2', 's3', 's4', 's5'];
    const run = start(ids.map((id) => step(id)), { concurrency: 2 });
    for (let done = 0; done < ids.length; done++) {
      await settle();
      expect(run.running(), `after ${done} finished`).to.equal(Math.min(2, ids.length - done));
      // Finish the oldest running step; the freed slot goes to the next one.
      run.call(run.started[done]!).ok();
    }
    const { records, failure } = await run.result;
    expect(failure).to.equal(undefined);
    expect(run.peak()).to.equal(2);
    expect(run.started).to.deep.equal(ids);
    expect(records.every((r) => r.status === 'ok')).to.equal(true);
  });

  it('after a failure starts nothing new, cancels running steps and skips their dependants', async () => {
    const run = start(
      [step('slow'), step('broken'), step('watch', [], true), step('waiting'), step('after-broken', ['broken']), step('cleanup', ['slow', 'broken'], true)],
      { concurrency: 3 },
    );
    await settle();
    expect(run.started).to.deep.equal(['slow', 'broken', 'watch']);

    run.call('broken').fail(new Error('pg_dump: connection refused'));
    await settle();
    expect(run.call('slow').signal.aborted, 'running step cancelled').to.equal(true);
    expect(run.call('watch').signal.aborted, 'a running always step is left alone').to.equal(false);
    expect(run.started, 'waiting never starts, though a slot is free').to.deep.equal(['slow', 'broken', 'watch', 'cleanup']);

    run.call('watch').ok();
    run.call('cleanup').ok();
    const { records, failure } = await run.result;
    expect(statuses({ records })).to.deep.equal({
      slow: 'cancelled',
      broken: 'failed',
      watch: 'ok',
      waiting: 'skipped',
      'after-broken': 'skipped',
      cleanup: 'ok',
    });
    expect(failure).to.be.instanceOf(BackplanError);
    expect(failure).to.include({ code: 'STEP_FAILED', message: 'pg_dump: connection refused' });
    expect(failure!.details.step).to.equal('broken');
    expect(run.events.filter((t) => t === 'step-end')).to.have.length(6);
  });

  it('runs always steps after a failure unless alwaysRuns says no, and keeps the first failure', async () => {
    const first = new BackplanError('STEP_FAILED', 'first', { step: 'dump' });
    const run = start([step('dump'), step('hook-after', ['dump'], true), step('unlock', ['hook-after'], true)], {
      alwaysRuns: (s) => s.id !== 'hook-after',
    });
    await settle();
    run.call('dump').fail(first);
    await settle();
    expect(run.started, 'hook-after refused by alwaysRuns').to.deep.equal(['dump', 'unlock']);

    run.call('unlock').fail(new Error('unlock failed too'));
    const { records, failure } = await run.result;
    expect(statuses({ records })).to.deep.equal({ dump: 'failed', 'hook-after': 'skipped', unlock: 'failed' });
    expect(failure, 'the first failure decides the exit code').to.equal(first);
    expect(run.settled).to.deep.equal(['dump', 'hook-after', 'unlock']);
  });

  it('treats an interrupt like a failure: running steps cancelled, always steps run, INTERRUPTED', async () => {
    const interrupt = new AbortController();
    const run = start([step('lock'), step('dump', ['lock']), step('tar', ['lock']), step('finalize', ['dump', 'tar']), step('unlock', ['finalize'], true)], {
      signal: interrupt.signal,
      concurrency: 1,
    });
    await settle();
    run.call('lock').ok();
    await settle();
    expect(run.started).to.deep.equal(['lock', 'dump']);

    interrupt.abort();
    await settle();
    expect(run.call('dump').signal.aborted).to.equal(true);
    expect(run.started, 'tar never starts; unlock does').to.deep.equal(['lock', 'dump', 'unlock']);

    run.call('unlock').ok();
    const { records, failure } = await run.result;
    expect(statuses({ records })).to.deep.equal({ lock: 'ok', dump: 'cancelled', tar: 'skipped', finalize: 'skipped', unlock: 'ok' });
    expect(failure).to.be.instanceOf(BackplanError);
    expect(failure).to.include({ code: 'INTERRUPTED', message: 'interrupted' });
    expect(failure!.details.step).to.equal('dump');
  });

  it('starts nothing but always steps when interrupted before the first step', async () => {
    const interrupt = new AbortController();
    interrupt.abort();
    const run = start([step('lock'), step('unlock', ['lock'], true)], { signal: interrupt.signal });
    await settle();
    expect(run.started).to.deep.equal(['unlock']);
    run.call('unlock').ok();
    const { records } = await run.result;
    expect(statuses({ records })).to.deep.equal({ lock: 'skipped', unlock: 'ok' });
  });
});
