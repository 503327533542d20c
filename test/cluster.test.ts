import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { connectTo, createDatabase, dropDatabase, serverFromEnv, startThrowawayCluster } from '../src/demo/cluster.js';
import type { PgServer } from '../src/demo/cluster.js';

describe('demo/cluster', () => {
  describe('serverFromEnv', () => {
    it('is undefined when the env names no server', async () => {
      expect(await serverFromEnv({ PGUSER: 'x', PGPASSWORD: 'y' })).to.equal(undefined);
    });

    it('reads DATABASE_URL, decoding user and password', async () => {
      const s = await serverFromEnv({ DATABASE_URL: 'postgres://ai%40da:p%3Ass@db.example:6543/aiidadb', PGHOST: 'ignored' });
      expect(s).to.include({ host: 'db.example', port: 6543, user: 'ai@da', password: 'p:ss' });
      expect(s?.env).to.deep.equal({ PGHOST: 'db.example', PGPORT: '6543', PGUSER: 'ai@da', PGPASSWORD: 'p:ss' });
    });

    it('reads PGHOST/PGPORT/PGUSER, defaulting the user to postgres', async () => {
      const s = await serverFromEnv({ PGPORT: '5433' });
      expect(s).to.include({ host: 'localhost', port: 5433, user: 'postgres' });
      expect(s?.env).to.not.have.property('PGPASSWORD');
      await s?.stop(); // a no-op for a server we did not start
    });

    it('rejects a port that is not one', async () => {
      let error: unknown;
      await serverFromEnv({ PGPORT: 'x5432' }).catch((e) => (error = e));
      expect(String(error)).to.match(/PGPORT is not a TCP port/);
    });
  });

  describe('startThrowawayCluster', () => {
    let server: PgServer | undefined;
    const lines: string[] = [];

    before(async () => {
      // Explicitly a new cluster, even when the env names a server.
      server = await startThrowawayCluster({ log: (l) => lines.push(l) });
    });

    after(async () => {
      await server?.stop();
    });

    it('serves SQL on 127.0.0.1 as superuser postgres', async () => {
      const s = server!;
      expect(s).to.include({ host: '127.0.0.1', user: 'postgres' });
      expect(s.env).to.deep.equal({ PGHOST: '127.0.0.1', PGPORT: String(s.port), PGUSER: 'postgres' });
      const client = await connectTo(s, 'postgres');
      try {
        const { rows } = await client.query('select 1 as one, current_setting($1) as fsync', ['fsync']);
        expect(rows[0]).to.deep.equal({ one: 1, fsync: 'off' });
      } finally {
        await client.end();
      }
      expect(lines.some((l) => l.includes('ready'))).to.equal(true);
    });

    it('creates uniquely named databases and drops them', async () => {
      const s = server!;
      const a = await createDatabase(s, 'My-Test');
      const b = await createDatabase(s, 'My-Test');
      expect(a).to.match(/^my_test_\d+_\d+_[0-9a-f]{6}$/).and.not.equal(b);
      const holder = await connectTo(s, a); // FORCE must end this session
      holder.on('error', () => {});
      await dropDatabase(s, a);
      await dropDatabase(s, b);
      const client = await connectTo(s, 'postgres');
      const { rows } = await client.query('select count(*)::int as n from pg_database where datname = any($1)', [[a, b]]);
      await client.end();
      expect(rows[0].n).to.equal(0);
    });

    it('stops and removes its temp dir, once', async () => {
      const s = server!;
      expect(existsSync(s.dir!)).to.equal(true);
      await s.stop();
      await s.stop();
      expect(existsSync(s.dir!)).to.equal(false);
      let error: unknown;
      await connectTo(s, 'postgres').catch((e) => (error = e));
      expect(String(error)).to.match(/cannot connect/);
    });
  });
});
