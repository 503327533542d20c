import { expect } from 'chai';
import { connectTo } from '../src/demo/cluster.js';
import { describeDatabase } from '../src/steps/db-snapshot.js';
import type { RunContext } from '../src/steps/run-context.js';
import { withDatabase } from './support/pg.js';

describe('db-snapshot: describing the database beside the dump', function () {
  it('counts every table\'s rows exactly, without parallel workers (the dump keeps the cores busy)', () =>
    withDatabase('describe', async (db) => {
      const client = await connectTo(db.server, db.name);
      try {
        await client.query('CREATE TABLE big AS SELECT g AS id FROM generate_series(1, 300000) g');
        await client.query('CREATE SCHEMA other; CREATE TABLE other.small (id int); INSERT INTO other.small VALUES (1), (2)');
        await client.query('ANALYZE big; SET max_parallel_workers_per_gather = 2');
        const countPlan = async () => (await client.query<{ 'QUERY PLAN': string }>('EXPLAIN SELECT count(*) FROM big')).rows.map((r) => r['QUERY PLAN']).join('\n');
        expect(await countPlan(), 'a parallel count to begin with').to.match(/Gather/);
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const ctx = { state: {}, plan: { profile: { database: { name: db.name } } } } as unknown as RunContext;
        await describeDatabase(client, ctx);
        expect(ctx.state.database?.rowCounts).to.deep.include({ 'public.big': 300000, 'other.small': 2 });
        expect(await countPlan()).not.to.match(/Gather|Parallel/);
        await client.query('COMMIT');
      } finally {
        await client.end();
      }
    }));
});
