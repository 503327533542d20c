import { expect } from 'chai';
import fc from 'fast-check';
import type { Retention } from '../src/manifest.js';
import { decideRetention, isoWeek } from '../src/record/retention.js';
import type { RetentionDecision, SnapshotInfo } from '../src/record/retention.js';

/** The on-disk id of a snapshot taken at an ISO time: '2026-11-22T030000Z-full'. */
function idAt(iso: string, kind: SnapshotInfo['kind'] = 'full'): string {
  return `${iso.slice(0, 19).replace(/:/g, '')}Z-${kind}`;
}

function snap(iso: string, extra: Partial<SnapshotInfo> = {}): SnapshotInfo {
  const kind = extra.kind ?? 'full';
  return { id: idAt(iso, kind), time: new Date(iso), kind, complete: true, pinned: false, ...extra };
}

/** One full snapshot a day at 03:00 UTC, for `days` days ending on `lastDay` (YYYY-MM-DD). */
function dailyHistory(days: number, lastDay: string): SnapshotInfo[] {
  const end = Date.parse(`${lastDay}T03:00:00Z`);
  return Array.from({ length: days }, (_, i) => snap(new Date(end - i * 86_400_000).toISOString()));
}

const keptIds = (d: RetentionDecision) => d.keep.map((k) => k.id);
const prunedIds = (d: RetentionDecision) => d.prune.map((p) => p.id);
const reasonsOf = (d: RetentionDecision, id: string) => d.keep.find((k) => k.id === id)?.reasons;
const day = (date: string) => idAt(`${date}T03:00:00Z`);

describe('retention', () => {
  describe('the borgmatic example policy over 60 daily snapshots (2026-09-24 … 2026-11-22)', () => {
    const policy: Retention = { keepLast: 3, keepDaily: 7, keepWeekly: 4, keepMonthly: 12 };
    const decision = decideRetention(dailyHistory(60, '2026-11-22'), policy);

    it('keeps exactly the 17 snapshots a borg prune would keep', () => {
      // 2026-11-22 is a Sunday, the last day of ISO week 2026-W47 (Mon 16 … Sun 22).
      // last 3:     Nov 22, 21, 20.
      // daily 7:    Nov 22-20 are already kept and do not count, so Nov 19 … Nov 13.
      // weekly 4:   W47's newest (Nov 22) and W46's newest (Sun Nov 15) are already kept, so the
      //             Sundays of W45 … W42: Nov 8, Nov 1, Oct 25, Oct 18.
      // monthly 12: November's newest is already kept; October's (Oct 31) and September's
      //             (Sep 30) count, then the history runs out at 2 of 12, so the oldest
      //             snapshot (Sep 24) is kept as well: borg's [oldest] rule.
      expect(keptIds(decision)).to.deep.equal([
        day('2026-11-22'),
        day('2026-11-21'),
        day('2026-11-20'),
        day('2026-11-19'),
        day('2026-11-18'),
        day('2026-11-17'),
        day('2026-11-16'),
        day('2026-11-15'),
        day('2026-11-14'),
        day('2026-11-13'),
        day('2026-11-08'),
        day('2026-11-01'),
        day('2026-10-31'),
        day('2026-10-25'),
        day('2026-10-18'),
        day('2026-09-30'),
        day('2026-09-24'),
      ]);
    });

    it('prunes the other 43, saying which policy did not select them', () => {
      expect(decision.prune).to.have.length(43);
      expect(new Set(decision.prune.map((p) => p.reason))).to.deep.equal(
        new Set(['not selected by keepLast 3, keepDaily 7, keepWeekly 4, keepMonthly 12']),
      );
    });

    it('credits each survivor to the first rule that kept it, with its period', () => {
      expect(reasonsOf(decision, day('2026-11-22'))).to.deep.equal(['last 1/3', 'newest complete snapshot']);
      expect(reasonsOf(decision, day('2026-11-20'))).to.deep.equal(['last 3/3']);
      expect(reasonsOf(decision, day('2026-11-19'))).to.deep.equal(['daily 1/7 (2026-11-19)']);
      expect(reasonsOf(decision, day('2026-11-13'))).to.deep.equal(['daily 7/7 (2026-11-13)']);
      expect(reasonsOf(decision, day('2026-11-08'))).to.deep.equal(['weekly 1/4 (2026-W45)']);
      expect(reasonsOf(decision, day('2026-10-18'))).to.deep.equal(['weekly 4/4 (2026-W42)']);
      expect(reasonsOf(decision, day('2026-10-31'))).to.deep.equal(['monthly 1/12 (2026-10)']);
      expect(reasonsOf(decision, day('2026-09-24'))).to.deep.equal(['monthly[oldest] 3/12 (2026-09)']);
    });
  });

  it('counts only the newest snapshot of a day toward keepDaily', () => {
    const history = ['19', '20', '21', '22'].flatMap((d) =>
      ['01', '09', '17'].map((h) => snap(`2026-11-${d}T${h}:00:00Z`)),
    );
    const decision = decideRetention(history, { keepDaily: 3 });
    expect(keptIds(decision)).to.deep.equal([
      idAt('2026-11-22T17:00:00Z'),
      idAt('2026-11-21T17:00:00Z'),
      idAt('2026-11-20T17:00:00Z'),
    ]);
  });

  it('never prunes a pinned snapshot, however old', () => {
    const history = dailyHistory(60, '2026-11-22').map((s) => (s.id === day('2026-09-25') ? { ...s, pinned: true } : s));
    const decision = decideRetention(history, { keepLast: 3 });
    expect(keptIds(decision)).to.deep.equal([day('2026-11-22'), day('2026-11-21'), day('2026-11-20'), day('2026-09-25')]);
    expect(reasonsOf(decision, day('2026-09-25'))).to.deep.equal(['pinned']);
  });

  it('lists every reason that applies to a survivor', () => {
    const history = [snap('2026-11-21T03:00:00Z'), snap('2026-11-22T03:00:00Z', { pinned: true })];
    expect(reasonsOf(decideRetention(history, { keepLast: 1 }), day('2026-11-22'))).to.deep.equal([
      'last 1/1',
      'pinned',
      'newest complete snapshot',
    ]);
  });

  describe('incremental chains', () => {
    // Two chains: a full on Nov 1 with daily incrementals up to Nov 5, and a full on Oct 20
    // with incrementals on Oct 21 and 22 that nothing recent depends on.
    const full = snap('2026-11-01T03:00:00Z');
    const incr = (date: string, parent: SnapshotInfo) => snap(`${date}T03:00:00Z`, { kind: 'incr', parent: parent.id });
    const i2 = incr('2026-11-02', full);
    const i3 = incr('2026-11-03', i2);
    const i4 = incr('2026-11-04', i3);
    const i5 = incr('2026-11-05', i4);
    const oldFull = snap('2026-10-20T03:00:00Z');
    const oldI1 = incr('2026-10-21', oldFull);
    const oldI2 = incr('2026-10-22', oldI1);
    const history = [oldFull, oldI1, oldI2, full, i2, i3, i4, i5];

    it('keeps the full and every intermediate incremental a kept incremental needs', () => {
      const decision = decideRetention(history, { keepLast: 1 });
      expect(keptIds(decision)).to.deep.equal([i5.id, i4.id, i3.id, i2.id, full.id]);
      expect(reasonsOf(decision, i4.id)).to.deep.equal([`needed by ${i5.id}`]);
      expect(reasonsOf(decision, full.id)).to.deep.equal([`needed by ${i2.id}`]);
      expect(prunedIds(decision)).to.deep.equal([oldI2.id, oldI1.id, oldFull.id]);
    });

    it('keeps an old chain whose incremental is kept by a rule', () => {
      // November's newest (i5) is already kept by keepLast, so keepMonthly's one month is
      // October, whose newest is oldI2; its chain reaches back to oldFull.
      const decision = decideRetention(history, { keepLast: 1, keepMonthly: 1 });
      expect(keptIds(decision)).to.deep.equal([i5.id, i4.id, i3.id, i2.id, full.id, oldI2.id, oldI1.id, oldFull.id]);
      expect(reasonsOf(decision, oldI2.id)).to.deep.equal(['monthly 1/1 (2026-10)']);
      expect(reasonsOf(decision, oldFull.id)).to.deep.equal([`needed by ${oldI1.id}`]);
    });
  });

  describe('incomplete snapshots', () => {
    const history = [
      snap('2026-11-20T03:00:00Z'),
      snap('2026-11-21T03:00:00Z'),
      snap('2026-11-21T15:00:00Z', { complete: false }),
      snap('2026-11-22T03:00:00Z'),
      snap('2026-11-23T03:00:00Z', { complete: false }),
    ];
    const decision = decideRetention(history, { keepDaily: 2 });

    it('are neither kept nor pruned: the runner clears them', () => {
      const listed = [...keptIds(decision), ...prunedIds(decision)];
      expect(listed).to.not.include(idAt('2026-11-21T15:00:00Z'));
      expect(listed).to.not.include(idAt('2026-11-23T03:00:00Z'));
    });

    it('do not take a rule slot or the "newest" guarantee from a complete snapshot', () => {
      expect(keptIds(decision)).to.deep.equal([day('2026-11-22'), day('2026-11-21')]);
      expect(reasonsOf(decision, day('2026-11-22'))).to.include('newest complete snapshot');
      expect(prunedIds(decision)).to.deep.equal([day('2026-11-20')]);
    });
  });

  it('keeps the newest complete snapshot even when every keep is zero', () => {
    const decision = decideRetention(dailyHistory(5, '2026-11-22'), { keepLast: 0, keepDaily: 0 });
    expect(decision.keep).to.deep.equal([{ id: day('2026-11-22'), reasons: ['newest complete snapshot'] }]);
    expect(decision.prune[0]).to.deep.equal({ id: day('2026-11-21'), reason: 'not selected by keepLast 0, keepDaily 0' });
  });

  it('keeps everything when no keep option is set', () => {
    const decision = decideRetention(dailyHistory(10, '2026-11-22'), {});
    expect(decision.keep).to.have.length(10);
    expect(decision.prune).to.deep.equal([]);
  });

  describe('ISO weeks', () => {
    it('start on Monday: Sunday 2026-11-22 and Monday 2026-11-23 are different weeks', () => {
      const history = ['21', '22', '23'].map((d) => snap(`2026-11-${d}T03:00:00Z`));
      const decision = decideRetention(history, { keepWeekly: 2 });
      expect(decision.keep).to.deep.equal([
        { id: day('2026-11-23'), reasons: ['weekly 1/2 (2026-W48)', 'newest complete snapshot'] },
        { id: day('2026-11-22'), reasons: ['weekly 2/2 (2026-W47)'] },
      ]);
      expect(prunedIds(decision)).to.deep.equal([day('2026-11-21')]);
    });

    it('span the new year: 2026-12-28 … 2027-01-03 is all 2026-W53', () => {
      // 2026 starts on a Thursday, so it has 53 ISO weeks; 2027-W01 starts on Monday 2027-01-04.
      const history = ['2026-12-27', '2026-12-28', '2026-12-31', '2027-01-01', '2027-01-03', '2027-01-04'].map((d) =>
        snap(`${d}T03:00:00Z`),
      );
      const decision = decideRetention(history, { keepWeekly: 3 });
      expect(decision.keep).to.deep.equal([
        { id: day('2027-01-04'), reasons: ['weekly 1/3 (2027-W01)', 'newest complete snapshot'] },
        { id: day('2027-01-03'), reasons: ['weekly 2/3 (2026-W53)'] },
        { id: day('2026-12-27'), reasons: ['weekly 3/3 (2026-W52)'] },
      ]);
    });

    it('are named after the year of their Thursday', () => {
      const weeks = ['2025-12-29', '2026-01-01', '2026-12-31', '2027-01-01', '2027-01-04', '2024-12-30', '2021-01-03'].map(
        (d) => isoWeek(new Date(`${d}T12:00:00Z`)),
      );
      expect(weeks).to.deep.equal(['2026-W01', '2026-W01', '2026-W53', '2026-W53', '2027-W01', '2025-W01', '2020-W53']);
    });

    it('are taken in UTC: 23:30 UTC on a Sunday is still that Sunday', () => {
      expect(isoWeek(new Date('2026-11-22T23:30:00Z'))).to.equal('2026-W47');
      expect(isoWeek(new Date('2026-11-23T00:30:00+02:00'))).to.equal('2026-W47');
    });
  });

  describe('the [oldest] rule', () => {
    const history = ['2026-09-24', '2026-09-30', '2026-10-31', '2026-11-22'].map((d) => snap(`${d}T03:00:00Z`));

    it('keeps the oldest snapshot when a rule runs out of history before N', () => {
      const decision = decideRetention(history, { keepMonthly: 12 });
      expect(reasonsOf(decision, day('2026-09-24'))).to.deep.equal(['monthly[oldest] 4/12 (2026-09)']);
      expect(decision.prune).to.deep.equal([]);
    });

    it('does not apply once the rule has found its N periods', () => {
      const decision = decideRetention(history, { keepMonthly: 2 });
      expect(keptIds(decision)).to.deep.equal([day('2026-11-22'), day('2026-10-31')]);
      expect(prunedIds(decision)).to.deep.equal([day('2026-09-30'), day('2026-09-24')]);
    });
  });

  describe('for any history and policy', () => {
    const START = Date.parse('2025-01-01T00:00:00Z');
    const TWO_YEARS_IN_MINUTES = 2 * 366 * 24 * 60;
    const rawSnapshot = fc.record({
      minutes: fc.integer({ min: 0, max: TWO_YEARS_IN_MINUTES }),
      kind: fc.constantFrom('full' as const, 'incr' as const),
      complete: fc.boolean(),
      pinned: fc.boolean(),
      parentIndex: fc.nat(),
    });
    // Ids are unique by construction; an incremental's parent is any other snapshot (possibly
    // incomplete, possibly forming a cycle), since a damaged destination can hold anything.
    const history = fc.array(rawSnapshot, { maxLength: 40 }).map((raws) =>
      raws.map(
        (r, i): SnapshotInfo => ({
          id: `s${i}`,
          time: new Date(START + r.minutes * 60_000),
          kind: r.kind,
          complete: r.complete,
          pinned: r.pinned,
          parent: r.kind === 'incr' ? `s${r.parentIndex % raws.length}` : undefined,
        }),
      ),
    );
    const count = fc.option(fc.integer({ min: 0, max: 8 }), { nil: undefined });
    const policy = fc.record(
      { keepLast: count, keepHourly: count, keepDaily: count, keepWeekly: count, keepMonthly: count, keepYearly: count },
      { requiredKeys: [] },
    );

    it('keeps the newest complete and pinned snapshots and every parent of a kept incremental, and splits the complete ones between keep and prune', () => {
      fc.assert(
        fc.property(history, policy, (snapshots, p) => {
          const decision = decideRetention(snapshots, p);
          const kept = new Set(keptIds(decision));
          const pruned = new Set(prunedIds(decision));
          const complete = snapshots.filter((s) => s.complete);
          const completeIds = new Set(complete.map((s) => s.id));

          expect(kept.size + pruned.size, 'no id listed twice').to.equal(decision.keep.length + decision.prune.length);
          expect([...kept].filter((id) => pruned.has(id)), 'keep and prune are disjoint').to.deep.equal([]);
          expect(new Set([...kept, ...pruned]), 'keep ∪ prune = complete').to.deep.equal(completeIds);

          // Several snapshots can share the newest time; one of them must survive.
          const newest = Math.max(...complete.map((s) => s.time.getTime()));
          const newestKept = complete.some((s) => s.time.getTime() === newest && kept.has(s.id));
          expect(complete.length === 0 || newestKept, 'newest complete kept').to.equal(true);
          for (const s of complete) {
            if (s.pinned) expect(kept.has(s.id), `pinned ${s.id}`).to.equal(true);
            if (kept.has(s.id) && s.kind === 'incr' && completeIds.has(s.parent ?? '')) {
              expect(kept.has(s.parent ?? ''), `parent of ${s.id}`).to.equal(true);
            }
          }
          for (const k of decision.keep) expect(k.reasons, `reasons of ${k.id}`).to.not.be.empty;
        }),
        { numRuns: 500 },
      );
    });
  });
});
